"""Delivery of profile files to a local folder, a real SFTP server (asyncssh) and a real S3-compatible server
(moto), both started on loopback by the tests and stopped after: files renamed into place, manifest last."""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading

import asyncssh
import boto3
import fsspec
from fsspec.implementations.local import LocalFileSystem
import pytest

from models.exports.delivery import DeliveryError, deliver_profile, delivery_targets
from tests.models.exports.test_export_profiles import export_profiles

PASSWORD = "test-only-password"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    folder = export_profiles(tmp_path_factory.mktemp("exports"), ["standard", "klaviyo", "talkdesk"])
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder, manifest


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sftp_server(tmp_path):
    """An asyncssh SFTP server on 127.0.0.1 (password login, files under tmp_path), on its own event loop."""
    loop = asyncio.new_event_loop()
    root = tmp_path / "sftp_root"
    root.mkdir()

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            return username == "nba" and password == PASSWORD

    async def start():
        key = asyncssh.generate_private_key("ssh-ed25519")
        return await asyncssh.listen("127.0.0.1", 0, server_factory=Server, server_host_keys=[key],
                                     sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root)))

    listener = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield listener.sockets[0].getsockname()[1], root
    loop.call_soon_threadsafe(listener.close)
    asyncio.run_coroutine_threadsafe(listener.wait_closed(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _check_delivered(listing: dict[str, bytes], folder, manifest, profile):
    own = {k.split("/", 1)[1]: v for k, v in manifest["files"].items() if v["profile"] == profile}
    manifest_name = f"nba_manifest_{profile}_20261123.json"
    assert set(listing) == set(own) | {manifest_name}  # no temporary .part name left
    for name, entry in own.items():
        assert hashlib.sha256(listing[name]).hexdigest() == entry["sha256"]
        assert listing[name] == (folder / profile / name).read_bytes()
    remote = json.loads(listing[manifest_name])
    assert remote["profile"] == profile and set(remote["files"]) == set(own)


def test_delivery_to_a_local_folder_renames_into_place_and_writes_the_manifest_last(published, tmp_path, monkeypatch):
    folder, manifest = published
    head = {k: v for k, v in manifest.items() if k != "files"}
    order = []
    real_mv = LocalFileSystem.mv
    monkeypatch.setattr(LocalFileSystem, "mv",
                        lambda self, a, b, **kw: (order.append((a.rsplit("/", 1)[1], b.rsplit("/", 1)[1])), real_mv(self, a, b, **kw)))
    target = tmp_path / "pickup"
    written = deliver_profile(folder, "talkdesk", manifest["files"], {"url": f"file://{target}"}, head)
    assert all(a == f".{b}.part" for a, b in order)  # every file arrives by a rename of its temporary name
    assert order[-1][1] == "nba_manifest_talkdesk_20261123.json" and len(written) == len(order)
    _check_delivered({p.name: p.read_bytes() for p in target.iterdir()}, folder, manifest, "talkdesk")


def test_delivery_to_an_s3_compatible_server(published, moto_server, monkeypatch):
    folder, manifest = published
    monkeypatch.setenv("TEST_S3_KEY", "testing")
    monkeypatch.setenv("TEST_S3_SECRET", "testing")
    options = {"key_env": "TEST_S3_KEY", "secret_env": "TEST_S3_SECRET", "client_kwargs": {"endpoint_url": moto_server,
               "region_name": "us-east-1"}}
    fs = fsspec.filesystem("s3", key="testing", secret="testing", client_kwargs=options["client_kwargs"])
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="pickup")
    head = {k: v for k, v in manifest.items() if k != "files"}
    deliver_profile(folder, "klaviyo", manifest["files"], {"url": "s3://pickup/klaviyo/nightly", "options": options}, head)
    fs.invalidate_cache()
    listing = {p.rsplit("/", 1)[1]: fs.cat_file(p) for p in fs.find("pickup/klaviyo/nightly")}
    _check_delivered(listing, folder, manifest, "klaviyo")


def test_delivery_to_an_sftp_server(published, sftp_server, monkeypatch):
    folder, manifest = published
    port, root = sftp_server
    monkeypatch.setenv("TEST_SFTP_PASSWORD", PASSWORD)
    head = {k: v for k, v in manifest.items() if k != "files"}
    target = {"url": f"sftp://nba@127.0.0.1:{port}/inbox/talkdesk",
              "options": {"password_env": "TEST_SFTP_PASSWORD", "known_hosts": None}}
    deliver_profile(folder, "talkdesk", manifest["files"], target, head)
    _check_delivered({p.name: p.read_bytes() for p in (root / "inbox" / "talkdesk").iterdir()}, folder, manifest,
                     "talkdesk")


def test_delivery_failures_name_profile_and_target(published, sftp_server, monkeypatch):
    folder, manifest = published
    port, _ = sftp_server
    head = {k: v for k, v in manifest.items() if k != "files"}
    monkeypatch.setenv("TEST_SFTP_PASSWORD", "wrong")
    target = {"url": f"sftp://nba@127.0.0.1:{port}/inbox", "options": {"password_env": "TEST_SFTP_PASSWORD",
                                                                       "known_hosts": None}}
    with pytest.raises(DeliveryError, match=f"profile talkdesk to sftp://nba@127.0.0.1:{port}/inbox failed"):
        deliver_profile(folder, "talkdesk", manifest["files"], target, head)
    with pytest.raises(DeliveryError, match="'NOT_SET_ANYWHERE', which is not set"):
        deliver_profile(folder, "talkdesk", manifest["files"], {"url": "sftp://x/y", "options": {"password_env": "NOT_SET_ANYWHERE"}}, head)
    with pytest.raises(ValueError, match="exports.delivery.hubspot: 'hubspot' is not in exports.profiles"):
        delivery_targets({"exports": {"delivery": {"hubspot": {"url": "s3://b"}}}}, ["standard"])
    with pytest.raises(ValueError, match="exports.delivery.talkdesk.url must be"):
        delivery_targets({"exports": {"delivery": {"talkdesk": {"url": "ftp://b"}}}}, ["talkdesk"])

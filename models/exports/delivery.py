"""Delivery of a profile's files to where its tool picks them up: a local folder, an SFTP server or an
S3-compatible bucket, through fsspec (s3fs, sshfs).

Why atomic: a tool polling the folder must never import a half-written file, so every file is uploaded under a
hidden temporary name and renamed, and the profile's manifest (which lists the files with their sha256) is
written last: a consumer that waits for the manifest sees every file complete.

Config (`exports.delivery.<profile>`): `url` (file:///path, sftp://user@host:port/path, s3://bucket/prefix) and
optional `options` passed to the filesystem; an option named `<name>_env` is read from that environment
variable at delivery time (`password_env: SFTP_PASSWORD`), so secrets never sit in the config file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import fsspec


class DeliveryError(RuntimeError):
    """A profile's files could not be delivered to its target."""


def delivery_targets(config: dict, profiles: list[str]) -> dict[str, dict]:
    """The `exports.delivery` targets, checked: each names a chosen profile and has a url with a known scheme."""
    targets = (config.get("exports") or {}).get("delivery") or {}
    for name, target in targets.items():
        if name not in profiles:
            raise ValueError(f"exports.delivery.{name}: {name!r} is not in exports.profiles {profiles}.")
        url = target.get("url") if isinstance(target, dict) else None
        if not isinstance(url, str) or url.split("://")[0] not in ("file", "sftp", "s3") or "://" not in url:
            raise ValueError(f"exports.delivery.{name}.url must be file://, sftp:// or s3://..., got {url!r}.")
    return targets


def storage_options(options: dict | None) -> dict:
    """Filesystem options with every `<name>_env` replaced by `<name>` = that environment variable's value."""
    resolved = {}
    for key, value in (options or {}).items():
        if key.endswith("_env"):
            if value not in os.environ:
                raise DeliveryError(f"Delivery option {key} names environment variable {value!r}, which is not set.")
            resolved[key.removesuffix("_env")] = os.environ[value]
        else:
            resolved[key] = value
    return resolved


def deliver_export_set(folder: Path, config: dict) -> dict[str, list[str]]:
    """Deliver every profile of the published set at `folder` that has an `exports.delivery` target; returns the
    remote paths written per profile."""
    manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    head = {k: v for k, v in manifest.items() if k != "files"}
    targets = delivery_targets(config, manifest.get("profiles", ["standard"]))
    return {name: deliver_profile(folder, name, manifest["files"], target, head) for name, target in sorted(targets.items())}


def deliver_profile(folder: Path, profile: str, files: dict[str, dict], target: dict, manifest_head: dict) -> list[str]:
    """Upload `profile`'s files (manifest entries keyed '<profile>/<name>') from the published `folder` to the
    target, each under a temporary name then renamed, and its manifest last; returns the remote paths written."""
    url = target["url"]
    try:
        fs, root = fsspec.url_to_fs(url, **storage_options(target.get("options")))
        fs.makedirs(root, exist_ok=True)
        written = []
        own = {k: v for k, v in sorted(files.items()) if v.get("profile") == profile}
        for relative in own:
            written.append(_put_atomically(fs, root, relative.split("/", 1)[-1], (Path(folder) / relative).read_bytes()))
        manifest = {**manifest_head, "profile": profile, "files": {k.split("/", 1)[-1]: v for k, v in own.items()}}
        name = f"nba_manifest_{profile}_{manifest_head['as_of'].replace('-', '')}.json"
        data = (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        written.append(_put_atomically(fs, root, name, data))
        return written
    except DeliveryError:
        raise
    except Exception as error:  # network, permission, bucket: one sentence naming profile and target
        raise DeliveryError(f"Delivering profile {profile} to {url} failed: {error}") from error


def _put_atomically(fs, root: str, name: str, data: bytes) -> str:
    """Write `data` as root/.name.part, then rename it to root/name (a tool never sees a partial file)."""
    final = f"{root.rstrip('/')}/{name}"
    temporary = f"{root.rstrip('/')}/.{name}.part"
    fs.pipe_file(temporary, data)
    fs.mv(temporary, final)
    return final

"""The surrogate index of the conversion flag (models/training/surrogate.py) on constructed randomised rows
with known effects: used when the effect runs through conversions (and then far less noisy than the direct
outcome), refused when the action moves value without moving the flag, and an offer's discount stays a cost."""
import numpy as np
import pandas as pd

from models.training.surrogate import apply_surrogate, ipw_weight
from models.training.value_uplift import dr_pseudo_outcome

N = 24_000
ORDER_MARGIN = 40.0  # what a conversion adds to the margin
P0, P1 = 0.05, 0.08  # conversion without / with the contact


def _rows(action_id: str, seed: int, *, retention: float = 0.0, discount: float = 0.0) -> pd.DataFrame:
    """One action's randomised rows: baseline spend ~ `x`, a conversion adds ORDER_MARGIN; `retention` adds
    value to every contacted customer without any conversion; `discount` is given on contacted conversions."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 10.0, N)
    treated = (rng.uniform(size=N) < 0.75).astype(int)
    label = (rng.uniform(size=N) < np.where(treated == 1, P1, P0)).astype(int)
    given = discount * label * treated
    value = x + rng.normal(0, 40.0, N) + ORDER_MARGIN * label + retention * treated - given
    return pd.DataFrame({"customer_id": [f"{action_id}-{i}" for i in range(N)], "action_id": action_id,
                         "campaign_date": pd.Timestamp("2026-06-01"), "treated": treated, "label": label,
                         "value": value, "discount": given, "propensity": treated.mean(), "baseline": x,
                         "source": "campaign"})


def _apply(frames: list[pd.DataFrame], alpha: float = 0.10):
    train = pd.concat(frames, ignore_index=True)
    train["gamma"] = dr_pseudo_outcome(train["value"].to_numpy(), train["treated"].to_numpy(float),
                                       train["propensity"].to_numpy(), train["baseline"].to_numpy())
    held = train.iloc[:0].drop(columns=["baseline"])
    gamma, _, check = apply_surrogate(train, held, np.zeros(0), sorted(train["action_id"].unique()), alpha=alpha)
    return train.assign(surrogate=gamma), check


def test_an_effect_through_conversions_is_measured_by_the_surrogate_with_far_less_noise():
    rows, check = _apply([_rows("email", 1), _rows("sms", 2)])
    assert check.used == {"email", "sms"}
    truth = (P1 - P0) * ORDER_MARGIN  # 1.2 per contact
    for _, own in rows.groupby("action_id"):
        direct_se = own["gamma"].std() / np.sqrt(len(own))
        surrogate_se = own["surrogate"].std() / np.sqrt(len(own))
        assert surrogate_se < direct_se / 2
        assert abs(own["surrogate"].mean() - truth) < 3 * surrogate_se


def test_value_moved_without_the_flag_refuses_the_surrogate_and_keeps_the_direct_outcome():
    rows, check = _apply([_rows("email", 1), _rows("retention_call", 2, retention=4.0)])
    assert "retention_call" not in check.used
    own = rows[rows["action_id"] == "retention_call"]
    np.testing.assert_array_equal(own["surrogate"].to_numpy(), own["gamma"].to_numpy())
    # the joint test sees it too: with it rejected, no action uses the surrogate
    assert check.joint_p < 0.10 and check.used == set()


def test_a_discount_stays_a_cost_of_the_surrogate_effect():
    # (a true surrogate is refused in alpha of the draws, by the direct outcome's noise: seeded rows)
    rows, check = _apply([_rows("offer", 7, discount=10.0)])
    assert check.used == {"offer"}
    own = rows[rows["action_id"] == "offer"]
    truth = (P1 - P0) * ORDER_MARGIN - P1 * 10.0  # 1.2 - 0.8 = 0.4 per contact
    se = own["surrogate"].std() / np.sqrt(len(own))
    assert abs(own["surrogate"].mean() - truth) < 3 * se


def test_the_plan_s_own_rows_without_a_flag_keep_the_direct_outcome():
    plan = _rows("email", 4).assign(source="plan", label=0)
    rows, check = _apply([_rows("email", 1), plan])
    mine = rows["source"] == "plan"
    np.testing.assert_array_equal(rows.loc[mine, "surrogate"].to_numpy(), rows.loc[mine, "gamma"].to_numpy())
    assert not np.array_equal(rows.loc[~mine, "surrogate"].to_numpy(), rows.loc[~mine, "gamma"].to_numpy())


def test_alpha_one_means_value_only():
    rows, check = _apply([_rows("email", 1)], alpha=1.0)
    assert check.used == set()
    np.testing.assert_array_equal(rows["surrogate"].to_numpy(), rows["gamma"].to_numpy())


def test_ipw_weights_sum_to_zero_within_a_date():
    treated = np.array([1, 1, 1, 0])
    assert abs(ipw_weight(treated, np.full(4, 0.75)).sum()) < 1e-12


def _held(gamma: np.ndarray, gamma_direct: np.ndarray) -> "HeldOut":
    from models.decisions.policy_selection import HeldOut

    n = len(gamma)
    rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "action_id": "winback", "gamma": gamma,
                         "gamma_direct": gamma_direct, "segment": 0, "held_out": True})
    return HeldOut(rows, np.zeros((n, 1)), np.zeros((n, 1)), np.ones((n, 1), dtype=bool))


def _all_winback(held) -> tuple[float, float, str]:
    from models.decisions.policy_selection import evaluate_checked

    n = len(held.rows)
    value, se, _, note = evaluate_checked(held, np.zeros(n, dtype=int), np.zeros(n), np.ones(n), ["winback"], 1000,
                                          np.ones(n, dtype=bool))
    return value, se, note


def test_a_policy_whose_value_on_net_value_contradicts_its_conversions_is_valued_on_net_value():
    rng = np.random.default_rng(5)
    n = 20_000
    surrogate = rng.normal(0.1, 5.0, n)  # conversions: about nothing
    direct = surrogate + rng.normal(2.0, 30.0, n)  # net value: +2 per contact more (a retention effect)
    value, se, note = _all_winback(_held(surrogate, direct))
    assert note.startswith("valued on net value")
    assert abs(value / 1000 - direct.mean()) < 1e-9


def test_a_policy_whose_conversions_agree_with_net_value_keeps_the_less_noisy_estimate():
    rng = np.random.default_rng(6)
    n = 20_000
    surrogate = rng.normal(1.0, 5.0, n)
    direct = surrogate + rng.normal(0.0, 30.0, n)
    value, se, note = _all_winback(_held(surrogate, direct))
    assert note.startswith("partly via conversions")
    assert abs(value / 1000 - surrogate.mean()) < 1e-9 and se < 1000 * 30.0 / np.sqrt(n) / 3

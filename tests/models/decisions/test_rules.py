"""The rule language: what it accepts, how it evaluates (vectorised, NaN compares false), what it rejects."""
import numpy as np
import pandas as pd
import pytest

from models.decisions.rules import RuleError, compile_rule

KNOWN = {"purchases_365d", "days_since_last_purchase", "complaints_30d", "segment", "reachable_email", "spend_365d"}


@pytest.fixture
def frame():
    return pd.DataFrame({
        "purchases_365d": [0, 1, 3, np.nan],
        "days_since_last_purchase": [400, 20, 200, 9999],
        "complaints_30d": [0, 1, 0, 0],
        "segment": ["vip", None, "basic", "vip"],
        "reachable_email": [True, False, True, True],
        "spend_365d": [0.0, 50.0, 300.0, np.nan],
    })


@pytest.mark.parametrize("text, expected", [
    ("purchases_365d >= 1 and days_since_last_purchase <= 365", [False, True, True, False]),
    ("purchases_365d >= 1 or complaints_30d > 0", [False, True, True, False]),
    ("not purchases_365d >= 1", [True, False, False, True]),  # NaN >= 1 is false, so `not` is true
    ("purchases_365d != 1", [True, False, True, False]),  # NaN != 1 is false too
    ("0 < purchases_365d < 3", [False, True, False, False]),  # chained comparison
    ("spend_365d / purchases_365d > 60", [False, False, True, False]),  # 0/0 is NaN -> false
    ("(purchases_365d + 1) * 2 - 1 >= 5", [False, False, True, False]),
    ("-days_since_last_purchase > -100", [False, True, False, False]),
    ("segment == 'vip'", [True, False, False, True]),
    ("segment != 'vip'", [False, False, True, False]),  # missing text compares false
    ("reachable_email", [True, False, True, True]),
    ("reachable_email == true and not complaints_30d", [True, False, True, True]),
    ("true", [True, True, True, True]),
    ("false or purchases_365d == 3", [False, False, True, False]),
    ("purchases_365d >= 1\n  and complaints_30d == 0", [False, False, True, False]),  # YAML block rules
])
def test_valid_rules_evaluate_vectorised(frame, text, expected):
    result = compile_rule(text, KNOWN).evaluate(frame)
    assert result.dtype == bool and result.shape == (len(frame),)
    assert result.tolist() == expected


def test_rule_records_features_and_clauses(frame):
    rule = compile_rule("purchases_365d >= 1 and days_since_last_purchase <= 365 and segment == 'vip'", KNOWN)
    assert rule.features == {"purchases_365d", "days_since_last_purchase", "segment"}
    assert rule.clauses == ("purchases_365d >= 1", "days_since_last_purchase <= 365", "segment == 'vip'")
    # row 0 fails clause 0, row 1 fails clause 2 (segment missing), row 2 clause 2, row 3 clause 0 (NaN)
    assert rule.failing_clause(frame).tolist() == [0, 2, 2, 0]
    assert compile_rule("segment == 'basic'", KNOWN).failing_clause(frame).tolist() == [0, 0, -1, 0]


@pytest.mark.parametrize("text, problem", [
    ("__import__('os')", "unsupported syntax 'call'"),
    ("__import__('os').system('echo hi') == 0", "unsupported syntax 'call'"),
    ("segment.upper() == 'VIP'", "unsupported syntax 'call'"),
    ("segment.real", "unsupported syntax 'attribute'"),
    ("segment[0] == 'v'", "unsupported syntax 'subscript'"),
    ("(lambda: 1)() == 1", "unsupported syntax 'call'"),
    ("lambda: 1", "unsupported syntax 'lambda'"),
    ("[x for x in segment]", "unsupported syntax 'comprehension'"),
    ("purchases_365d if true else 0", "unsupported syntax 'if-expression'"),
    ("(x := 1)", "unsupported syntax 'assignment'"),
    ("f'{segment}' == 'vip'", "unsupported syntax 'f-string'"),
    ("segment in ['vip']", "unsupported operator 'in'"),
    ("segment is None", "unsupported operator 'is'"),
    ("purchases_365d ** 2 > 4", "unsupported operator '**'"),
    ("purchases_365d % 2 == 0", "unsupported operator '%'"),
    ("purchases_365d // 2 == 0", "unsupported operator '//'"),
    ("purchases_365d == None", "unsupported syntax 'constant None'"),
    ("days_since_lst > 180", "unknown feature 'days_since_lst'"),
    ("True_ and purchases_365d", "unknown feature 'True_'"),
    ("purchases_365d >", "malformed"),
    ("purchases_365d >= 1 and", "malformed"),
    ("import os", "malformed"),
    ("purchases_365d > 1; purchases_365d < 3", "malformed"),
    ("", "malformed"),
    ("   ", "malformed"),
    ("not " * 80 + "purchases_365d", "malformed"),
])
def test_rejections_name_the_problem(text, problem):
    with pytest.raises(RuleError) as info:
        compile_rule(text, KNOWN)
    assert problem in str(info.value)
    assert problem in info.value.problem


def test_type_errors_are_reported_at_evaluation(frame):
    with pytest.raises(RuleError, match="cannot compare text with a number"):
        compile_rule("segment > 3", KNOWN).evaluate(frame)
    with pytest.raises(RuleError, match="arithmetic needs numbers"):
        compile_rule("segment + 1 > 3", KNOWN).evaluate(frame)
    with pytest.raises(RuleError, match="text cannot be used as a condition"):
        compile_rule("segment", KNOWN).evaluate(frame)
    with pytest.raises(RuleError, match="feature 'complaints_30d' is missing"):
        compile_rule("complaints_30d > 0", KNOWN).evaluate(frame.drop(columns="complaints_30d"))


def test_rules_never_reach_eval_or_exec(monkeypatch, frame):
    """Compiling and evaluating never runs code: no eval/exec, and compile only to build the AST."""
    import ast
    import builtins
    calls = []
    real_compile = builtins.compile

    def forbidden(*args, **kwargs):
        calls.append(args[:1])
        raise AssertionError("eval/exec must not be used")

    def ast_only_compile(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            calls.append(source)
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", ast_only_compile)
    result = compile_rule("purchases_365d >= 1 and segment == 'vip'", KNOWN).evaluate(frame).tolist()
    with pytest.raises(RuleError):
        compile_rule("__import__('os').system('exit 1')", KNOWN)
    monkeypatch.undo()
    assert calls == []
    assert result == [False, False, False, False]


def test_evaluation_handles_nullable_and_text_numbers():
    frame = pd.DataFrame({"purchases_365d": pd.array([1, None, 3], dtype="Int64"),
                          "reachable_email": pd.array([True, None, False], dtype="boolean"),
                          "segment": pd.Categorical(["vip", "basic", None])})
    assert compile_rule("purchases_365d >= 1", KNOWN).evaluate(frame).tolist() == [True, False, True]
    assert compile_rule("reachable_email", KNOWN).evaluate(frame).tolist() == [True, False, False]
    assert compile_rule("segment == 'basic'", KNOWN).evaluate(frame).tolist() == [False, True, False]

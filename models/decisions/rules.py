"""A small, safe expression language for the action catalog's eligibility and suitability rules.

A rule is parsed with Python's `ast` and only a whitelist of nodes is accepted: feature names,
numbers, strings, true/false, comparisons (< <= > >= == !=, chained), and/or/not, + - * / and
parentheses. Nothing is ever passed to eval/exec; evaluation walks the tree with numpy, one column
at a time, so a rule over a million customers costs a few vectorised operations.

Missing values (NaN / None) make every comparison they take part in false, `!=` included.
"""
from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_RULE_CHARS = 2000
MAX_RULE_DEPTH = 60
LITERAL_NAMES = {"true": True, "false": False}

_COMPARE: dict[type, Callable] = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
                                  ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITHMETIC: dict[type, Callable] = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                                     ast.Div: np.true_divide}
_OPERATOR_TEXT = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
                  ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~",
                  ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_SYNTAX_NAMES = {ast.Call: "call", ast.Attribute: "attribute", ast.Subscript: "subscript",
                 ast.Lambda: "lambda", ast.ListComp: "comprehension", ast.SetComp: "comprehension",
                 ast.DictComp: "comprehension", ast.GeneratorExp: "comprehension", ast.IfExp: "if-expression",
                 ast.NamedExpr: "assignment", ast.JoinedStr: "f-string", ast.Starred: "starred",
                 ast.List: "list", ast.Tuple: "tuple", ast.Set: "set", ast.Dict: "dict", ast.Slice: "slice",
                 ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield"}


class RuleError(ValueError):
    """A rule is malformed, uses syntax outside the whitelist, names an unknown feature or cannot be evaluated."""

    def __init__(self, rule: str, problem: str):
        self.rule, self.problem = rule, problem
        super().__init__(f"rule '{rule}': {problem}")


@dataclass(frozen=True)
class Rule:
    """A compiled rule: its text, the features it reads and its top-level `and` clauses."""

    text: str
    features: frozenset[str]
    clauses: tuple[str, ...]
    _tree: ast.expr

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array, one value per row of `frame`; missing values compare false."""
        return _evaluate_as_mask(self, self._tree, frame)

    def failing_clause(self, frame: pd.DataFrame) -> np.ndarray:
        """Index (into `clauses`) of the first clause each row fails, -1 where the whole rule holds."""
        failing = np.full(len(frame), -1, dtype=np.int16)
        parts = self._tree.values if _is_and(self._tree) else [self._tree]
        for index in range(len(parts) - 1, -1, -1):
            failing[~_evaluate_as_mask(self, parts[index], frame)] = index
        return failing


def compile_rule(text: str, known_features: set[str]) -> Rule:
    """Parse `text` into a Rule, rejecting anything outside the whitelist or any unknown feature name."""
    if not isinstance(text, str) or not text.strip():
        raise RuleError(str(text), "malformed: a rule must be a non-empty string")
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(text[:60] + "...", f"malformed: longer than {MAX_RULE_CHARS} characters")
    source = text.strip().replace("\r", " ").replace("\n", " ")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise RuleError(text, f"malformed: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise RuleError(text, "malformed: too deeply nested") from None
    features: set[str] = set()
    _check(tree, text, known_features, features, depth=0)
    parts = tree.values if _is_and(tree) else [tree]
    clauses = tuple(ast.get_source_segment(source, part) or source for part in parts)
    return Rule(text=text, features=frozenset(features), clauses=clauses, _tree=tree)


def _is_and(node: ast.expr) -> bool:
    return isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And)


def _check(node: ast.AST, text: str, known: set[str], features: set[str], depth: int) -> None:
    """Walk the tree; raise RuleError on the first node or operator outside the whitelist."""
    if depth > MAX_RULE_DEPTH:
        raise RuleError(text, f"malformed: nested deeper than {MAX_RULE_DEPTH} levels")
    depth += 1
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, text, known, features, depth)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            raise RuleError(text, f"unsupported operator '{_OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)}'")
        _check(node.operand, text, known, features, depth)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise RuleError(text, f"unsupported operator '{_OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)}'")
        _check(node.left, text, known, features, depth)
        _check(node.right, text, known, features, depth)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise RuleError(text, f"unsupported operator '{_OPERATOR_TEXT.get(type(op), type(op).__name__)}'")
        for operand in (node.left, *node.comparators):
            _check(operand, text, known, features, depth)
    elif isinstance(node, ast.Name):
        if node.id in LITERAL_NAMES:
            return
        if node.id not in known:
            raise RuleError(text, f"unknown feature '{node.id}'")
        features.add(node.id)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, (bool, int, float, str)):
            return
        raise RuleError(text, f"unsupported syntax 'constant {node.value!r}'")
    else:
        raise RuleError(text, f"unsupported syntax '{_SYNTAX_NAMES.get(type(node), type(node).__name__.lower())}'")


# ---------------------------------------------------------------- evaluation
# Values flowing through the tree are numpy arrays (float64 for numbers and booleans, bool for logic,
# object for text) or Python scalars (float, bool, str).

def _evaluate_as_mask(rule: Rule, node: ast.expr, frame: pd.DataFrame) -> np.ndarray:
    value = _evaluate(rule, node, frame)
    return np.broadcast_to(_truth(rule, value), (len(frame),)).copy()


def _evaluate(rule: Rule, node: ast.expr, frame: pd.DataFrame):
    if isinstance(node, ast.Constant):
        return float(node.value) if isinstance(node.value, int) and not isinstance(node.value, bool) else node.value
    if isinstance(node, ast.Name):
        return LITERAL_NAMES[node.id] if node.id in LITERAL_NAMES else _column(rule, frame, node.id)
    if isinstance(node, ast.BoolOp):
        masks = [_truth(rule, _evaluate(rule, value, frame)) for value in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return combine.reduce(np.broadcast_arrays(*masks)) if len(masks) > 1 else masks[0]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(rule, node.operand, frame)
        if isinstance(node.op, ast.Not):
            return np.logical_not(_truth(rule, operand))
        number = _number(rule, operand)
        return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.BinOp):
        left, right = _number(rule, _evaluate(rule, node.left, frame)), _number(rule, _evaluate(rule, node.right, frame))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        operands = [_evaluate(rule, operand, frame) for operand in (node.left, *node.comparators)]
        result = True
        for op, left, right in zip(node.ops, operands, operands[1:]):
            result = np.logical_and(result, _compare(rule, _COMPARE[type(op)], left, right))
        return result
    raise RuleError(rule.text, f"unsupported syntax '{type(node).__name__.lower()}'")  # unreachable after _check


def _column(rule: Rule, frame: pd.DataFrame, name: str) -> np.ndarray:
    """A feature as float64 (numbers, booleans; NaN when missing) or as object text (None when missing)."""
    if name not in frame.columns:
        raise RuleError(rule.text, f"feature '{name}' is missing from the data")
    series = frame[name]
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "decimal", "empty"):
        return pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "boolean":
        return series.astype("boolean").to_numpy(dtype=np.float64, na_value=np.nan)
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


def _is_text(value) -> bool:
    return isinstance(value, str) or (isinstance(value, np.ndarray) and value.dtype == object)


def _number(rule: Rule, value):
    """Numbers for arithmetic; booleans count as 0/1, text is an error."""
    if _is_text(value):
        raise RuleError(rule.text, "arithmetic needs numbers, got text")
    if isinstance(value, np.ndarray):
        return value.astype(np.float64, copy=False)
    return float(value)


def _truth(rule: Rule, value):
    """Truth of a value used as a condition: logic as is, numbers non-zero and not missing."""
    if _is_text(value):
        raise RuleError(rule.text, "text cannot be used as a condition; compare it with == or !=")
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return value
        return (value != 0) & ~np.isnan(value)
    return bool(value) and not (isinstance(value, float) and np.isnan(value))


def _compare(rule: Rule, op: Callable, left, right):
    """Element-wise comparison where a missing value on either side yields false."""
    if _is_text(left) != _is_text(right):
        raise RuleError(rule.text, "cannot compare text with a number")
    if not _is_text(left):
        left, right = _number(rule, left), _number(rule, right)
        with np.errstate(invalid="ignore"):
            return op(left, right) & ~np.isnan(left) & ~np.isnan(right)
    missing = pd.isna(left) | pd.isna(right)
    left, right = _filled_text(left), _filled_text(right)
    try:
        result = op(left, right)
    except TypeError:
        raise RuleError(rule.text, "cannot compare these values (mixed text and numbers in a column)") from None
    return np.asarray(result, dtype=bool) & ~missing


def _filled_text(value):
    """Text with missing entries replaced by '' (their result is masked out afterwards)."""
    if not isinstance(value, np.ndarray):
        return value
    filled = value.copy()
    filled[pd.isna(value)] = ""
    return filled

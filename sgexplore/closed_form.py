"""Closed forms written once, as text: the README shows them and ``peak()``/``area()`` evaluate them.

A surrogate's peak and area are short expressions in its declared parameters and the spike
threshold ``thr``, e.g. ``"grad_scale * slope / 4"``. Writing each once, as text that is both
shown and computed, means the table in the README can never disagree with the number a
readout shows. The language is a small, safe subset of Python's expressions, walked here
(never passed to ``eval``):

* numbers, the names of the surrogate's parameters, ``thr``, ``pi`` and ``inf``;
* ``+ - * / **``, unary minus, parentheses;
* ``sqrt(...)``, ``exp(...)``, ``log(...)``, ``abs(...)``.

``"numeric"`` says there is no closed form (the caller computes one numerically). Text after
``#`` is a note for readers, e.g. ``"inf  # one-sided"``.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from dataclasses import dataclass
from typing import Callable, FrozenSet, Mapping, Optional

__all__ = ["ClosedForm", "closed_form", "NUMERIC", "pretty"]

#: The text that says "no closed form".
NUMERIC = "numeric"

_CONSTANTS = {"pi": math.pi, "inf": math.inf}
_FUNCTIONS = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "abs": abs}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
# Display: the README writes products with a middle dot and the constants as symbols.
_PRETTY = tuple((re.compile(pattern), shown) for pattern, shown in (
    (r"\s*\*\*\s*", "^"), (r"\s\*\s", " · "), (r"\*", "·"), (r"\s-\s", " − "),
    (r"\bsqrt\b", "√"), (r"\bpi\b", "π"), (r"\binf\b", "∞")))

Evaluator = Callable[[Mapping[str, float]], float]


@dataclass(frozen=True)
class ClosedForm:
    """One parsed closed form: its expression, its note and the names it reads."""

    expression: str
    note: str
    names: FrozenSet[str]
    _evaluate: Evaluator

    def __call__(self, values: Mapping[str, float]) -> float:
        """The value, with ``values`` naming every parameter (and ``thr``) the expression reads."""
        missing = self.names - set(values)
        if missing:
            raise ValueError(f"the closed form {self.expression!r} reads {sorted(missing)}, "
                             f"which are not among {sorted(values)}")
        return float(self._evaluate(values))


def pretty(text: str) -> str:
    """``text`` as the README shows it: ``grad_scale · slope / 4``, ``∞ (one-sided)``."""
    expression, _, note = text.partition("#")
    shown = expression.strip()
    for pattern, replacement in _PRETTY:
        shown = pattern.sub(replacement, shown)
    return f"{shown} ({note.strip()})" if note.strip() else shown


@functools.lru_cache(maxsize=None)
def closed_form(text: str) -> Optional[ClosedForm]:
    """The parsed closed form of ``text``, or None for ``"numeric"`` (no closed form).

    ValueError, naming the text and the part that is not allowed, for anything outside the
    language above.
    """
    if not isinstance(text, str):
        raise TypeError(f"a closed form is text; got {text!r:.40}")
    expression, _, note = text.partition("#")
    expression, note = expression.strip(), note.strip()
    if expression == NUMERIC:
        return None
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as error:
        raise ValueError(f"closed form {text!r} is not an expression: {error.msg}") from None
    names: set = set()
    evaluate = _compile(tree, text, names)  # fills names
    return ClosedForm(expression, note, frozenset(names), evaluate)


def _compile(node: ast.AST, text: str, names: set) -> Evaluator:
    """A function of the values that computes ``node``; collects the names it reads."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        value = node.value
        return lambda values: value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        value = _CONSTANTS[node.id]
        return lambda values: value
    if isinstance(node, ast.Name):
        names.add(node.id)
        key = node.id
        return lambda values: values[key]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op, left, right = _BINARY[type(node.op)], _compile(node.left, text, names), _compile(node.right, text, names)
        return lambda values: op(left(values), right(values))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        op, operand = _UNARY[type(node.op)], _compile(node.operand, text, names)
        return lambda values: op(operand(values))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and len(node.args) == 1 and not node.keywords):
        function, argument = _FUNCTIONS[node.func.id], _compile(node.args[0], text, names)
        return lambda values: function(argument(values))
    raise ValueError(f"closed form {text!r}: {ast.unparse(node)!r} is not allowed (numbers, parameter "
                     f"names, thr, pi, inf, + - * / **, and {', '.join(_FUNCTIONS)} only)")

"""The shape of a GraphQL document, judged in linear time before it is validated.

graphql-core parses in time linear in tokens, but not all of validation is linear:
OverlappingFieldsCanBeMergedRule compares every pair of fields that share a response
name, and Strawberry's depth and alias limiters expand every fragment spread (a chain
of fragments each spreading the next twice doubles the work per level). So a document
is first measured here: its text and tokens, how many fragments, spreads and fields it
writes, its root fields, and — each fragment walked once, its figures memoised — its
depth and aliases. What passes is small enough for validation to be quick.

Anonymous callers may only log in or accept an invitation; `anonymous_allowed` judges
that on a stricter, cheaper pass still, and nothing of theirs is validated otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    parse,
)

from ..domain.errors import RuleViolation

# Authenticated callers. The console's largest document (fragments included) has 110
# tokens, 46 fields and 2 spreads; GraphiQL's introspection query 163 tokens, 67 fields,
# 4 fragments and 8 spreads. Data travels in `variables`, not in the text. graphql-core
# parses some 5-10 µs per token: at these caps the worst document is parsed, measured
# and refused (or validated) in a few tens of milliseconds (`make bench`, H1).
MAX_QUERY_LENGTH = 65_536
MAX_TOKENS = 1_000
MAX_FRAGMENTS = 10
MAX_SPREADS = 30
MAX_FIELDS = 500
MAX_DEPTH = 10  # levels below the root field (graphql-depth-limit's count)
MAX_ALIASES = 30  # counted as executed: a fragment's aliases once per spread
# Anonymous callers: `login` or `acceptInvitation` with its fields is some 45 tokens.
ANONYMOUS_MAX_LENGTH = 4_096
ANONYMOUS_MAX_TOKENS = 200


class ShapeRefused(Exception):
    """The document is larger, deeper or more repetitive than a caller needs."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.rule = RuleViolation(code, params=params)

    def as_graphql_error(self) -> GraphQLError:
        rule = self.rule
        extensions = {"code": rule.code, "messageZh": rule.message_zh, "messageEn": rule.message_en}
        return GraphQLError(rule.message_en, original_error=rule, extensions=extensions)


def parse_within_limits(query: str) -> DocumentNode:
    """Parse, refusing over-long text and too many tokens with a typed code.

    Raises ShapeRefused, or GraphQLError for a syntax error."""
    if len(query) > MAX_QUERY_LENGTH:
        raise ShapeRefused("QUERY_TOO_LONG", limit=MAX_QUERY_LENGTH)
    try:
        return parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        if f"more than {MAX_TOKENS} tokens" in error.message:
            raise ShapeRefused("QUERY_TOO_MANY_TOKENS", limit=MAX_TOKENS) from error
        raise


def check_shape(document: DocumentNode) -> None:
    """Raise ShapeRefused unless the document is within every cap; linear in its size."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if len(fragments) > MAX_FRAGMENTS:
        raise ShapeRefused("TOO_MANY_FRAGMENTS", limit=MAX_FRAGMENTS)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        _refuse_duplicate_root_fields(operation, fragments)
    _count_selections(document)
    walk = _Walk(fragments)
    if any(walk.depth(o.selection_set) > MAX_DEPTH for o in operations):
        raise ShapeRefused("QUERY_TOO_DEEP", limit=MAX_DEPTH)
    if sum(walk.aliases(o.selection_set) for o in operations) > MAX_ALIASES:
        raise ShapeRefused("TOO_MANY_ALIASES", limit=MAX_ALIASES)


def _merged(selection_set: SelectionSetNode, condition: str) -> Iterator[tuple[str, SelectionNode]]:
    """A selection set's fields and spreads, its inline fragments' merged in as validation
    merges them, each with the type condition it is selected under."""
    for node in selection_set.selections:
        if isinstance(node, InlineFragmentNode):
            inner = node.type_condition.name.value if node.type_condition else condition
            yield from _merged(node.selection_set, inner)
        else:
            yield condition, node


def _count_selections(document: DocumentNode) -> None:
    """Fields and spreads as written, and no response name twice in one selection set
    under one type condition: OverlappingFieldsCanBeMergedRule compares every pair of
    fields sharing a name (and their sub-selections), so repeats make it quadratic."""
    fields = spreads = 0
    stack = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        seen: set[tuple[str, str]] = set()
        for condition, node in _merged(stack.pop(), ""):
            if not isinstance(node, FieldNode):
                spreads += 1
                continue
            fields += 1
            key = (condition, (node.alias or node.name).value)
            if key in seen:
                raise ShapeRefused("DUPLICATE_FIELD", name=key[1])
            seen.add(key)
            if node.selection_set:
                stack.append(node.selection_set)
        if fields > MAX_FIELDS:
            raise ShapeRefused("TOO_MANY_FIELDS", limit=MAX_FIELDS)
        if spreads > MAX_SPREADS:
            raise ShapeRefused("TOO_MANY_FRAGMENT_SPREADS", limit=MAX_SPREADS)


def _refuse_duplicate_root_fields(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> None:
    """Each response name once at the root: the answer has one key per name, so a repeat
    adds nothing but work (validation compares every repeat with every other)."""
    seen: set[str] = set()
    pending = [operation.selection_set]
    spread: set[str] = set()
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FieldNode):
                name = (node.alias or node.name).value
                if name in seen:
                    raise ShapeRefused("DUPLICATE_ROOT_FIELD", name=name)
                seen.add(name)
            elif isinstance(node, InlineFragmentNode):
                pending.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                fragment = fragments.get(node.name.value)
                if fragment is not None and node.name.value not in spread:
                    spread.add(node.name.value)
                    pending.append(fragment.selection_set)


@dataclass
class _Walk:
    """Depth and alias figures of selection sets, each fragment's computed once.

    A fragment spread inside a cycle counts nothing here: validation refuses the cycle.
    An unknown fragment counts nothing either: validation refuses it by name."""

    fragments: dict[str, FragmentDefinitionNode]

    def __post_init__(self) -> None:
        self._depths: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._open: set[str] = set()

    def depth(self, selection_set: SelectionSetNode) -> int:
        """How many levels below the root field the deepest selection lies; what lies
        below an introspection field (`__schema`, `__type`) is not counted, as in
        graphql-depth-limit and Strawberry's QueryDepthLimiter."""
        deepest = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                if node.selection_set and not node.name.value.startswith("__"):
                    deepest = max(deepest, 1 + self.depth(node.selection_set))
            elif isinstance(node, InlineFragmentNode):
                deepest = max(deepest, self.depth(node.selection_set))
            elif isinstance(node, FragmentSpreadNode):
                deepest = max(deepest, self._fragment(node.name.value, self._depths, self.depth))
        return deepest

    def aliases(self, selection_set: SelectionSetNode) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += node.alias is not None
                if node.selection_set:
                    total += self.aliases(node.selection_set)
            elif isinstance(node, InlineFragmentNode):
                total += self.aliases(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                total += self._fragment(node.name.value, self._aliases, self.aliases)
        return total

    def _fragment(
        self, name: str, memo: dict[str, int], measure: Callable[[SelectionSetNode], int]
    ) -> int:
        if name in memo:
            return memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._open:
            return 0
        self._open.add(name)
        try:
            memo[name] = measure(fragment.selection_set)
        finally:
            self._open.discard(name)
        return memo[name]


def anonymous_allowed(query: str, fields: frozenset[str]) -> bool:
    """True when an anonymous caller's document only selects these root fields, each at
    most once per operation, and has no fragments; judged on a small parse, nothing
    validated (validation follows only for documents that pass)."""
    if len(query) > ANONYMOUS_MAX_LENGTH:
        return False
    try:
        document = parse(query, no_location=True, max_tokens=ANONYMOUS_MAX_TOKENS)
    except GraphQLError:
        return False
    if not all(isinstance(d, OperationDefinitionNode) for d in document.definitions):
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(_only_once(o, fields) for o in operations)


def _only_once(operation: OperationDefinitionNode, fields: frozenset[str]) -> bool:
    names = []
    for node in operation.selection_set.selections:
        if not isinstance(node, FieldNode) or node.name.value not in fields:
            return False
        names.append(node.name.value)
    return len(names) == len(set(names)) and _fields_only(operation.selection_set)


def _fields_only(selection_set: SelectionSetNode) -> bool:
    """No fragment, inline or spread, anywhere below (recursing is safe: the document
    holds at most ANONYMOUS_MAX_TOKENS tokens)."""
    return all(
        isinstance(node, FieldNode)
        and (node.selection_set is None or _fields_only(node.selection_set))
        for node in selection_set.selections
    )

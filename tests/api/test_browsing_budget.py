"""The query budget is sized for people (api/cost.py): browsing the console is never
refused, while a client repeating the largest request allowed soon is.

Costs are those of the console's own documents (frontend/src/api/operations), at the
page sizes it asks for; time is a moved clock, not a wait."""

from __future__ import annotations

from pathlib import Path

from graphql import DocumentNode, OperationDefinitionNode, parse

from imaging_billing.api.cost import MAX_SINGLE_QUERY, PEOPLE, Budgets, query_cost

OPERATIONS = Path(__file__).parents[2] / "frontend" / "src" / "api" / "operations"
PAGE_SIZE = 20  # the console's largest page size (useCursorPager)
EVERY_PAGE = ("Viewer", "AccountHeader")  # what the layout may ask on any page


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def console_costs() -> dict[str, int]:
    document: DocumentNode = parse(
        "\n".join(p.read_text() for p in sorted(OPERATIONS.glob("*.graphql")))
    )
    variables = {"first": PAGE_SIZE, "days": 90}
    return {
        d.name.value: query_cost(document, d, variables)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name and d.operation.value == "query"
    }


def test_the_heaviest_console_page_once_a_second_for_a_minute_is_never_refused() -> None:
    # given the console's queries and one person's full bucket
    costs = console_costs()
    heaviest = max(costs, key=lambda name: costs[name])
    page = costs[heaviest] + sum(costs[name] for name in EVERY_PAGE)
    clock = Clock()
    budgets = Budgets(clock=clock)
    # when the heaviest page is opened once a second for a minute
    refused = []
    for second in range(60):
        clock.now = float(second)
        allowed, _ = budgets.take("admin", page, PEOPLE)
        if not allowed:
            refused.append(second)
    # then nothing is refused (the page is a real one: hundreds of points)
    assert page > 500, (heaviest, page)
    assert refused == []


def test_repeating_the_largest_request_allowed_is_refused_within_seconds() -> None:
    # given a client sending the largest single request there may be, ten times a second
    clock = Clock()
    budgets = Budgets(clock=clock)
    answered = 0
    for tick in range(100):
        clock.now = tick / 10
        allowed, _ = budgets.take("scraper", MAX_SINGLE_QUERY, PEOPLE)
        answered += allowed
    # then over those 10 s it is answered no more than its bucket and refill pay for
    paid = (PEOPLE.capacity + 10 * PEOPLE.rate) // MAX_SINGLE_QUERY
    assert answered <= paid
    assert answered < 100 / 4

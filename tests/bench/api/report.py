"""The API section of the report: submissions/s through the API against the client's, and the
event fan-out with the connections the API held."""

from __future__ import annotations

from tests.bench.api.scenario import ROUNDS, ApiResults
from tests.bench.report.formatting import aligned_table, number


def api_section(results: ApiResults) -> list[str]:
    ratios = results.ratios()
    rows = []
    for level in sorted(ratios):
        client, api = results.rate("client", level), results.rate("api", level)
        rows.append(
            [
                str(level),
                str(client.submissions),
                number(client.per_second),
                number(api.per_second),
                number(ratios[level], 3),
            ]
        )
    fan = results.fanout
    out = [
        "",
        "(api) HTTP API: POST /v1/tasks over real HTTP to `agentworker api` (its own process)",
        "  against AgentWorkerClient.submit in the bench process; same database and broker;",
        f"  {ROUNDS} alternating rounds of each; both use SQLAlchemy's default pool (5 + 10)",
    ]
    out += aligned_table(["concurrency", "submissions", "client/s", "API/s", "API / client"], rows)
    out += [
        "",
        f"(api) SSE: {fan.followers} followers of one task, {fan.events} events appended in "
        f"batches of {fan.batch}, poll every {fan.poll_seconds:g}s",
        f"  delivered {fan.delivered:,} events in {fan.seconds:.3f}s = "
        f"{fan.per_second:,.0f} events/s (the writer took {fan.write_seconds:.3f}s)",
        f"  API database connections while streaming: at most {fan.connections_max} open, "
        f"{fan.active_max} running a statement ({fan.samples} samples of pg_stat_activity)",
        f"  while the {fan.followers} followers connected (each request authenticates): at most "
        f"{fan.connect_connections_max} open",
    ]
    return out

"""A research agent whose run is longer than a Lambda invocation: plan, search and fetch, summarise
each source, write a report. Every model turn and every tool call is a durable step, so the run
splits across as many invocations as it needs and resumes anywhere (Lambda, a container, both).

Offline (the default) every model is the local model in scripted mode; set ``RELAYKIT_MODEL``
(``anthropic:claude-sonnet-4-6``, ``bedrock:...``) and the same file runs on a hosted model, by
configuration alone. The tools read the documents in ``research_fixtures/``; ``io_delay`` (in
the request) makes each tool call take that long, as a real HTTP call would.

relaykit dev examples/research_agent.py            # or: dev --lambda --stream --timeout 5
curl -s localhost:8000/research -H 'content-type: application/json' \
     -d '{"question": "How do long agents run on Lambda?", "io_delay": 0.5}'
curl -sN localhost:8000/runs/RUN_ID/stream          # steps and tokens, resumable (Last-Event-ID)
curl -s localhost:8000/runs/RUN_ID                  # the report, every step, usage
"""

from __future__ import annotations

import asyncio
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from relaykit import App, Message, Model, ToolCall
from relaykit.agents import Agent, ScriptedAgentModel, ToolError
from relaykit.durable import WorkflowContext
from relaykit.llm.local import LocalModel, ScriptItem
from relaykit.settings import load_settings

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "research_fixtures"
IO_DELAY: ContextVar[float] = ContextVar("IO_DELAY", default=0.0)
"""Seconds each tool call waits (simulated I/O); set per run from the request."""


def documents() -> dict[str, str]:
    """The fixture library: ``docs://NAME`` -> markdown text."""
    return {f"docs://{p.stem}": p.read_text() for p in sorted(FIXTURES.glob("*.md"))}


def title_of(text: str) -> str:
    return text.splitlines()[0].lstrip("# ").strip() if text else ""


# [docs:tools]
researcher = Agent(
    system=(
        "You research a question in a document library. Run the searches you are given, fetch "
        "every relevant document, then reply with the URLs you read, one per line."
    ),
    max_turns=8,
    token_budget=200_000,
)


class Hit(BaseModel):
    url: str
    title: str


@researcher.tool
async def search(
    query: Annotated[str, Field(description="Words to look for in the library")],
    limit: Annotated[int, Field(ge=1, le=10)] = 5,
) -> list[Hit]:
    """Search the document library; returns matching document URLs and titles."""
    await asyncio.sleep(IO_DELAY.get())  # a search API call in real life
    words = [w for w in query.lower().split() if len(w) > 2]
    found = [
        Hit(url=url, title=title_of(text))
        for url, text in documents().items()
        if any(word in text.lower() for word in words)
    ]
    return found[:limit]


@researcher.tool
async def fetch(url: Annotated[str, Field(description="A URL that search returned")]) -> str:
    """Read one document by its URL."""
    await asyncio.sleep(IO_DELAY.get())  # an HTTP GET in real life
    library = documents()
    if url not in library:
        raise ToolError(f"no document at {url}; use a URL that search returned")
    return library[url]


# [/docs:tools]

# [docs:models]
QUERIES = ["lambda timeout", "durable execution replay", "response streaming", "lease cost"]
READ = sorted(documents())
PLAN_SCRIPT: list[ScriptItem] = ["\n".join(f"search: {q}" for q in QUERIES)]
AGENT_SCRIPT: list[ScriptItem] = [
    [ToolCall(id=f"s{i}", name="search", input={"query": q}) for i, q in enumerate(QUERIES)],
    [ToolCall(id=f"f{i}", name="fetch", input={"url": url}) for i, url in enumerate(READ)],
    "\n".join(READ),
]

settings = load_settings(app_name="research", config_dir=HERE)
offline = settings.model.partition(":")[0] == "local"  # RELAYKIT_MODEL=anthropic:... goes online
delay = settings.local_model_delay
app = App("research", model=ScriptedAgentModel(AGENT_SCRIPT, delay=delay) if offline else None)
# None: ctx.llm, the configured provider. Offline replies are cut short to keep the run small.
planner: Model | None = ScriptedAgentModel(PLAN_SCRIPT, delay=delay) if offline else None
writer: Model | None = LocalModel(delay=delay) if offline else None
SUMMARY_TOKENS, REPORT_TOKENS = (40, 40) if offline else (400, 1500)
# [/docs:models]


class Research(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    io_delay: float = Field(default=0.05, ge=0, le=60)
    """Seconds each tool call takes (simulated I/O)."""


class Source(BaseModel):
    url: str
    title: str
    summary: str


class Report(BaseModel):
    question: str
    queries: list[str]
    sources: list[Source]
    report: str
    turns: int
    tool_calls: int
    tokens: int


def ask(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


def parse_queries(plan: str, question: str) -> list[str]:
    """``search: ...`` lines of the plan (the question itself if the model wrote none)."""
    found = [
        line.split(":", 1)[1].strip()
        for line in plan.splitlines()
        if line.strip().lower().startswith("search:") and line.split(":", 1)[1].strip()
    ]
    return found[:6] or [question]


def fetched(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(url, text)`` of every successful fetch in an agent transcript, in call order."""
    urls: dict[str, str] = {}
    texts: dict[str, str] = {}
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if block.get("type") == "tool_use" and block.get("name") == "fetch":
                urls[block["id"]] = str(block["input"].get("url", ""))
            elif block.get("type") == "tool_result" and not block.get("is_error"):
                body = block.get("content")
                texts[block["tool_use_id"]] = body if isinstance(body, str) else json.dumps(body)
    unique: dict[str, str] = {}
    for call_id, url in urls.items():
        if call_id in texts:
            unique.setdefault(url, texts[call_id])
    return list(unique.items())


# [docs:workflow]
@app.workflow("/research")
async def research(body: Research, ctx: WorkflowContext) -> Report:
    """Steps: plan, turn:N and tool:N:NAME (the agent), summarise:URL per source, report."""
    IO_DELAY.set(body.io_delay)  # set on every (re)play: the tools read it
    plan = await ctx.llm_step(
        "plan",
        ask(f"Plan searches for: {body.question}\nWrite one 'search: WORDS' line per search."),
        model=planner,
        max_tokens=300,
    )
    queries = parse_queries(plan.text, body.question)
    prompt = f"Question: {body.question}\nSearches to run: {'; '.join(queries)}"
    found = await researcher.run(ctx, prompt)  # turn:1, tool:1:search ..., turn:2, ...

    sources: list[Source] = []
    for url, text in fetched(found.messages):
        summary = await ctx.llm_step(
            f"summarise:{url}",
            ask(f"Summarise for the question {body.question!r}:\n\n{text}"),
            model=writer,
            max_tokens=SUMMARY_TOKENS,
        )
        sources.append(Source(url=url, title=title_of(text), summary=summary.text))

    notes = "\n".join(f"- {s.title} ({s.url}): {s.summary}" for s in sources)
    report = await ctx.llm_step(
        "report",
        ask(f"Write a report answering {body.question!r} from these notes:\n{notes}"),
        model=writer,
        max_tokens=REPORT_TOKENS,
    )
    used = found.usage
    return Report(
        question=body.question,
        queries=queries,
        sources=sources,
        report=report.text,
        turns=found.turns,
        tool_calls=found.tool_calls,
        tokens=used.input_tokens + used.output_tokens,
    )


# [/docs:workflow]

"""Registration: what ``App`` accepts, and the errors that name the function and the problem."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from relaykit import App, Context, NotFound, RegistrationError


class Ask(BaseModel):
    question: str


def make_app() -> App:
    return App("registry", settings={"local_model_delay": 0})


def test_decorators_return_the_function_unchanged() -> None:
    """@app.task and @app.stream register and give back the very same function."""
    app = make_app()

    async def ask(body: Ask, ctx: Context) -> str:
        return body.question

    async def chat(body: Ask) -> AsyncIterator[str]:
        yield body.question

    assert app.task("/ask")(ask) is ask
    assert app.stream("/chat")(chat) is chat
    assert [(s.kind, s.path, s.body_param, s.ctx_param) for s in app.handlers] == [
        ("task", "/ask", "body", "ctx"),
        ("stream", "/chat", "body", None),
    ]


def test_duplicate_path_names_both_functions() -> None:
    """A second handler on a taken path fails, naming the new and the existing function."""
    app = make_app()

    async def first() -> str:
        return "a"

    async def second() -> str:
        return "b"

    app.add_task("/same", first)
    with pytest.raises(RegistrationError) as caught:
        app.add_task("/same", second)
    message = str(caught.value)
    assert "second" in message and "first" in message and "'/same'" in message


@pytest.mark.parametrize(
    ("fn_source", "needle"),
    [
        ("def f(a, b, c): return 1", "too many parameters"),
        ("def f(*args): return 1", "variadic positional"),
        ("def f(a, /): return 1", "positional-only"),
        ("def f(ctx: Context, context: Context): return 1", "more than one context"),
        ("def f(body: 'Missing'): return 1", "cannot be resolved"),
        ("async def f():\n    yield 1", "register it with @app.stream"),
    ],
)
def test_bad_task_signatures_fail_at_registration(fn_source: str, needle: str) -> None:
    """Each bad task signature fails when registered, with a message saying what is wrong."""
    namespace: dict[str, Any] = {"Context": Context}
    exec(fn_source, namespace)
    with pytest.raises(RegistrationError) as caught:
        make_app().add_task("/t", namespace["f"])
    assert needle in str(caught.value)
    assert ".f" in str(caught.value)


def test_stream_must_be_an_async_generator() -> None:
    """A stream handler that does not yield asynchronously is refused with the reason."""

    async def not_a_generator() -> str:
        return "x"

    with pytest.raises(RegistrationError, match="async generator"):
        make_app().add_stream("/s", not_a_generator)


@pytest.mark.parametrize("path", ["ask", "/a b", "/items/{id}", "", "/healthz", "/runs/x"])
def test_bad_or_reserved_paths_are_refused(path: str) -> None:
    """Paths must be plain '/segments' and must not shadow relaykit's own routes."""

    async def handler() -> str:
        return "x"

    with pytest.raises(RegistrationError):
        make_app().add_task(path, handler)


def test_unknown_path_lists_registered_ones() -> None:
    """Looking up a missing path raises NotFound listing what exists."""
    app = make_app()

    async def ask() -> str:
        return "x"

    app.add_task("/ask", ask)
    with pytest.raises(NotFound, match="/ask"):
        app.handler("/nope")


def test_registration_after_serving_is_refused() -> None:
    """Handlers added after the ASGI app was built would be invisible, so they are refused."""
    app = make_app()
    app.asgi()

    async def late() -> str:
        return "x"

    with pytest.raises(RegistrationError, match="already built"):
        app.add_task("/late", late)


async def test_invoke_runs_a_task_in_process() -> None:
    """App.invoke validates, calls and encodes, as the HTTP target does."""
    app = make_app()

    @app.task("/ask")
    async def ask(body: Ask, ctx: Context) -> dict[str, str]:
        reply = await ctx.llm.complete([{"role": "user", "content": body.question}])
        return {"text": reply.text, "request_id_set": str(bool(ctx.request_id))}

    assert await app.invoke("/ask", {"question": "hi"}) == {
        "text": "Local model reply to: hi",
        "request_id_set": "True",
    }


async def test_invoke_stream_yields_encoded_chunks() -> None:
    """App.invoke_stream yields text chunks as text and models as JSON."""
    app = make_app()

    @app.stream("/mixed")
    async def mixed() -> AsyncIterator[Ask | str]:
        yield "hello"
        yield Ask(question="q")

    chunks = [chunk async for chunk in app.invoke_stream("/mixed")]
    assert [(c.kind, c.data) for c in chunks] == [("text", "hello"), ("json", '{"question":"q"}')]


async def test_sync_task_runs_in_a_thread() -> None:
    """A plain def task is called in a worker thread and its result encoded."""
    import threading

    app = make_app()
    main_thread = threading.get_ident()

    @app.task("/sync")
    def sync(numbers: list[int]) -> dict[str, int | bool]:
        return {"sum": sum(numbers), "other_thread": threading.get_ident() != main_thread}

    assert await app.invoke("/sync", [1, 2, 3]) == {"sum": 6, "other_thread": True}

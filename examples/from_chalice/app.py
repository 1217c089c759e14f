"""A typical Chalice app, moved to relaykit (docs/migrate-chalice.md).

The Chalice original: a JSON route, a REST route reading ``app.current_request``, an SQS handler,
an S3 handler, an hourly schedule and a pure Lambda function, configured in
``.chalice/config.json``. Here: one relaykit ``App``, the FastAPI app that serves the REST route,
and ``relaykit.toml`` next to this file for memory, timeouts and concurrency.

    relaykit routes examples/from_chalice/app.py            # every handler and where it runs
    relaykit serve examples/from_chalice/app.py --worker    # a container (polls the SQS queue)
    Handler app.handler                                     # Lambda's managed Python runtime
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from relaykit import App, Context, asgi_lambda_handler

# [docs:app]
app = App("documents")  # Chalice: app = Chalice(app_name="documents")
# [/docs:app]


# [docs:task]
class SummaryRequest(BaseModel):
    doc_id: str
    text: str = Field(min_length=1, max_length=20_000)


class Summary(BaseModel):
    doc_id: str
    summary: str


@app.task("/summaries")
async def summarise(body: SummaryRequest, ctx: Context) -> Summary:
    """Chalice: @app.route("/summaries", methods=["POST"]) reading current_request.json_body."""
    reply = await ctx.llm.complete([{"role": "user", "content": f"Summarise: {body.text}"}])
    return Summary(doc_id=body.doc_id, summary=reply.text)


# [/docs:task]


# [docs:rest]
api = FastAPI(title="documents")


@api.get("/documents/{doc_id}")
async def get_document(doc_id: str, request: Request, fields: str = "all") -> dict[str, str]:
    """Chalice: @app.route("/documents/{doc_id}") reading current_request.query_params and
    .headers. FastAPI hands the path parameter, the query parameter and the request over."""
    caller = request.headers.get("x-caller", "anonymous")
    return {"doc_id": doc_id, "fields": fields, "caller": caller}


api.include_router(app.router())  # /summaries, under the host app's middleware and OpenAPI
handler = asgi_lambda_handler(api, app)  # Handler app.handler (Chalice's was app.app)
# [/docs:rest]


# [docs:sqs]
class Job(BaseModel):
    doc_id: str
    text: str


@app.on_sqs("summary-jobs")
async def summarise_job(job: Job, ctx: Context) -> None:
    """Chalice: @app.on_sqs_message(queue="summary-jobs") looping over the event's records.
    Called once per record, its JSON body validated into Job; a failure fails that record only."""
    reply = await ctx.llm.complete([{"role": "user", "content": f"Summarise: {job.text}"}])
    print(f"job {job.doc_id}: {reply.text}")


# [/docs:sqs]


# [docs:s3]
@app.on_s3("uploads", prefix="incoming/", suffix=".txt", events=["ObjectCreated:*"])
async def on_upload(record: dict[str, Any], ctx: Context) -> None:
    """Chalice: @app.on_s3_event(bucket="uploads", events=["s3:ObjectCreated:*"],
    prefix="incoming/", suffix=".txt") reading event.bucket and event.key."""
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])  # the record keeps S3's URL encoding
    print(f"uploaded s3://{bucket}/{key}")


# [/docs:s3]


# [docs:schedule]
@app.on_schedule("rate(1 hour)", rule="hourly-digest")
async def hourly_digest(event: dict[str, Any], ctx: Context) -> None:
    """Chalice: @app.schedule(Rate(1, unit=Rate.HOURS)), receiving a CloudWatchEvent."""
    reply = await ctx.llm.complete([{"role": "user", "content": "Write the hourly digest"}])
    print(f"digest at {event['time']}: {reply.text}")


# [/docs:schedule]


# [docs:lambda-function]
def thumbnail_sizes(event: dict[str, Any], context: Any) -> dict[str, list[int]]:
    """Chalice: @app.lambda_function(). A plain Lambda handler needs nothing from relaykit:
    deploy it as its own function, Handler app.thumbnail_sizes, from the same package."""
    width = int(event.get("width", 0))
    return {"sizes": [width // 4, width // 2, width]}


# [/docs:lambda-function]

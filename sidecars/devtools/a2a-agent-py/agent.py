"""A real A2A agent on PyPI's a2a-sdk (1.3.x): the SDK's own Starlette routes and request handler, served by
uvicorn on 127.0.0.1 -- the second, independent server implementation next to sidecars/devtools/a2a-agent.ts
(@a2a-js/sdk). Same behaviour as that one:

- JSON-RPC at /a2a/jsonrpc and HTTP+JSON/REST under /a2a/rest, both with the SDK's v0.3 compatibility
  layer on (v0.3 method names such as message/send, v0.3 REST paths such as /v1/message:send);
- the agent card at /.well-known/agent-card.json, advertising JSON-RPC and HTTP+JSON interfaces for v1.0
  and v0.3 whose URLs start with the public URL: --public-url at start, replaced by the contents of
  --public-url-file whenever that file exists (read on every card request, so a proxy's address can be set
  after the agent started, without a restart);
- a message gets a task: the task (submitted), `working`, an artifact `echo: <text>`, `completed`
  (streamed, four events);
- every request that reaches it is appended, before the SDK sees it, to the --log file as one JSON line:
  {"method", "path", "headers", "body"} (body: the raw bytes as UTF-8, headers: lower-cased names, a list
  for a repeated header).

Run with the venv scripts/setup.sh makes ($HEXR_A2A_PYTHON):
    $HEXR_A2A_PYTHON agent.py --port 8080 --log /tmp/received.jsonl --name writer
"""

import argparse
import json
import os
import uuid

import uvicorn
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    Part,
    Task,
    TaskState,
    TaskStatus,
)
from starlette.applications import Starlette
from starlette.routing import Mount

JSONRPC_PATH = "/a2a/jsonrpc"
REST_PATH = "/a2a/rest"


class EchoExecutor(AgentExecutor):
    """task (submitted) -> working -> artifact `echo: <first text part>` -> completed."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        task_id = context.task_id or str(uuid.uuid4())
        context_id = context.context_id or str(uuid.uuid4())
        if context.current_task is None:
            await event_queue.enqueue_event(
                Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[message] if message is not None else [],
                )
            )
        text = next((p.text for p in (message.parts if message else []) if p.HasField("text")), "")
        updater = TaskUpdater(event_queue, task_id, context_id)
        await updater.start_work()
        await updater.add_artifact(
            [Part(text=f"echo: {text}", media_type="text/plain")], name="echo", last_chunk=True
        )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await TaskUpdater(event_queue, context.task_id or "", context.context_id or "").cancel()


def agent_card(name: str, base: str) -> AgentCard:
    def iface(path: str, binding: str, version: str) -> AgentInterface:
        return AgentInterface(url=f"{base}{path}", protocol_binding=binding, protocol_version=version)

    return AgentCard(
        name=name,
        description=f"Hexr test agent {name} (a2a-sdk for Python): echoes the text it is sent",
        supported_interfaces=[
            iface(JSONRPC_PATH, "JSONRPC", "1.0"),
            iface(REST_PATH, "HTTP+JSON", "1.0"),
            iface(JSONRPC_PATH, "JSONRPC", "0.3"),
            iface(REST_PATH, "HTTP+JSON", "0.3"),
        ],
        provider=AgentProvider(url="https://hexr.example", organization="Hexr tests"),
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=True, push_notifications=False, extended_agent_card=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="Echo", description="Repeats the message text", tags=["test"])],
    )


class RecordRequests:
    """ASGI middleware: reads the whole request body, appends the request to the log, then hands the app
    the same body (and, after it, the connection's own messages, so a disconnect still reaches SSE)."""

    def __init__(self, app, log_path: str) -> None:
        self.app = app
        self.log_path = log_path

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        buffered: list[dict] = []
        while True:
            msg = await receive()
            buffered.append(msg)
            if msg["type"] != "http.request":
                break
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body", False):
                break
        headers: dict[str, str | list[str]] = {}
        for raw_name, raw_value in scope["headers"]:
            n, v = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            prev = headers.get(n)
            headers[n] = v if prev is None else [*(prev if isinstance(prev, list) else [prev]), v]
        query = scope.get("query_string", b"").decode("latin-1")
        record = {
            "method": scope["method"],
            "path": scope.get("raw_path", scope["path"].encode()).decode("latin-1") + (f"?{query}" if query else ""),
            "headers": headers,
            "body": b"".join(chunks).decode("utf-8", errors="replace"),
        }
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

        async def replay():
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


def build_app(name: str, public_url: str, public_url_file: str | None, log_path: str):
    card = agent_card(name, public_url)

    async def card_for_request(_: AgentCard) -> AgentCard:
        base = public_url
        if public_url_file and os.path.exists(public_url_file):
            with open(public_url_file, encoding="utf-8") as f:
                base = f.read().strip() or public_url
        return agent_card(name, base)

    handler = DefaultRequestHandler(agent_executor=EchoExecutor(), task_store=InMemoryTaskStore(), agent_card=card)
    routes = [
        *create_agent_card_routes(card, card_modifier=card_for_request),
        *create_jsonrpc_routes(handler, JSONRPC_PATH, enable_v0_3_compat=True),
        # mounted rather than `path_prefix=REST_PATH`: with a prefix the SDK puts its tenant mount in front
        # of it (/{tenant}/a2a/rest/message:send); under a Mount the tenant follows the interface URL
        # (/a2a/rest/{tenant}/message:send), as the card's HTTP+JSON URL says
        Mount(REST_PATH, routes=create_rest_routes(handler, enable_v0_3_compat=True)),
    ]
    return RecordRequests(Starlette(routes=routes), log_path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True, help="file every request is appended to (JSON lines)")
    ap.add_argument("--name", default="agent")
    ap.add_argument("--public-url", default=os.environ.get("HEXR_A2A_PUBLIC_URL"))
    ap.add_argument("--public-url-file", default=os.environ.get("HEXR_A2A_PUBLIC_URL_FILE"))
    a = ap.parse_args()
    public_url = a.public_url or f"http://127.0.0.1:{a.port}"
    app = build_app(a.name, public_url, a.public_url_file, a.log)
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

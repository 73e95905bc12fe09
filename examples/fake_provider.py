#!/usr/bin/env python3
"""A tiny OpenAI-compatible provider for trying examples/ai.sh without an account (and for CI).

    python3 examples/fake_provider.py --port 0      # 0: pick a free port

The first line it prints is `listening on http://127.0.0.1:<port>/v1`: that is the base URL
to give Weft (AI_BASE_URL for examples/ai.sh). It listens on 127.0.0.1 only.

  POST /v1/chat/completions  a chat completion; with "stream": true a Server-Sent Events stream
                             of chunks (with a last `usage` chunk when
                             stream_options.include_usage is set), ending with `data: [DONE]`
  GET  /v1/models            an OpenRouter-style model list

The answer is made from the last user message (a prompt mentioning Ada is answered
"Hello, Ada!") and tokens are counted roughly, as words. Any API key is accepted. Python 3.11
standard library only.
"""

import argparse
import json
import re
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODELS = [
    {
        "id": "demo-model",
        "name": "Demo model (fake provider)",
        "context_length": 8192,
        "pricing": {"prompt": "0.0000005", "completion": "0.0000015"},
        "supported_parameters": ["max_tokens", "temperature", "stream"],
    }
]

# Words of a prompt that are not a name to greet.
COMMON = {"Write", "A", "An", "The", "You", "Hello", "Reply", "Answer", "Please", "Say", "I"}


def count_tokens(text):
    """A rough token count: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def message_text(message):
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def answer_for(messages):
    """The reply to the last user message: a greeting for the first capitalised name in it."""
    users = [message_text(m) for m in messages if m.get("role") == "user"]
    prompt = users[-1] if users else ""
    names = [w for w in re.findall(r"\b[A-Z][a-z]+\b", prompt) if w not in COMMON]
    if names:
        return f"Hello, {names[-1]}! Lovely to meet you."
    if prompt.strip():
        return f"You said: {' '.join(prompt.split()[:12])}"
    return "Hello!"


def pieces(text):
    """The answer in stream-sized pieces (words with their following space)."""
    return re.findall(r"\S+\s*", text) or [text]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider/1"

    def log_message(self, fmt, *args):  # quiet: stdout belongs to the "listening on" line
        sys.stderr.write("fake_provider: " + (fmt % args) + "\n")

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message):
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def do_GET(self):
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self.send_json(200, {"data": MODELS})
        else:
            self.error(404, f"no route for GET {self.path}")

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self.error(404, f"no route for POST {self.path}")
            return
        try:
            request = json.loads(raw or b"{}")
        except json.JSONDecodeError as err:
            self.error(400, f"the body is not JSON: {err}")
            return
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            self.error(400, "`messages` must be a non-empty list")
            return
        model = request.get("model") or "demo-model"
        text = answer_for(messages)
        max_tokens = request.get("max_tokens") or request.get("max_completion_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0:
            # Cut to the limit, in tokens as counted here.
            words = text.split()
            while len(words) > 1 and count_tokens(" ".join(words)) > max_tokens:
                words.pop()
            text = " ".join(words)
        prompt_tokens = sum(count_tokens(message_text(m)) for m in messages)
        completion_tokens = count_tokens(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        ident = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if request.get("stream"):
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            self.stream(ident, created, model, text, usage if include_usage else None)
            return
        self.send_json(
            200,
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )

    def stream(self, ident, created, model, text, usage):
        # No content-length: the stream ends when the connection closes.
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(choices, **extra):
            body = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
            self.wfile.write(f"data: {json.dumps(body)}\n\n".encode())
            self.wfile.flush()

        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        for piece in pieces(text):
            chunk([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            time.sleep(0.01)
        chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if usage is not None:
            chunk([], usage=usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    args = parser.parse_args()
    # One thread per connection (ThreadingHTTPServer), so a slow stream blocks no one.
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    print(f"listening on http://127.0.0.1:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

"""A real OpenAI-compatible server on 127.0.0.1 backed by the packaged Gemma: a small stand-in for a vLLM or
llama.cpp server, for tests and measurements of kgpipe's HTTP backend with structured output.

* ``POST /v1/chat/completions`` (the last message's content is the prompt, as is: the base model has no chat
  template) and ``POST /v1/completions`` (``prompt``); greedy, ``max_tokens``, ``stop``.
* With ``response_format: {"type": "json_schema", "json_schema": {"schema": S}}`` (or llama.cpp's ``json_schema``
  field) the reply is decoded under ``S`` by kgpipe's own grammar decoder (``kgpipe.llms.grammar``), for the
  subset kgpipe sends: objects (every property written, in order), arrays of objects with ``maxItems``,
  strings with ``enum`` or ``maxLength``. Another schema is answered 400, naming the keyword.
* ``refuse_schema=True``: every request carrying a schema is answered 400 naming ``response_format``, as a
  server without structured output answers.

Run as a script for measurements: ``python tests/gemma_openai.py --port 8011 [--refuse-schema]``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from kgpipe.bench.endpoint import send_json
from kgpipe.llms.grammar import GrammarDecoder
from kgpipe.llms.trie import PathTrie, continuation_ids


class UnsupportedSchema(ValueError):
    """A schema outside the subset this server decodes."""


@dataclass(frozen=True)
class _State:
    pc: int = 0  # the op being written
    node: int = 0  # position in that op's trie of alternatives
    items: int = 0  # items written in the open array
    chars: int = 0  # characters of the free string being written


class _Choice:
    """Write one of some texts (token sequences in a trie), then go to that text's target op. ``effects``: per text,
    "" or "first" (an array's first item: items = 1) or "next" (another item, only while items < ``cap``)."""

    def __init__(self, tokenizer: Any, texts: list[str], targets: list[int], effects: list[str] | None = None,
                 cap: int | None = None) -> None:  # fmt: skip
        self.texts, self.targets = texts, targets
        self.effects = effects or [""] * len(texts)
        self.cap = cap
        seqs = list(continuation_ids(tokenizer, texts, context="x"))
        self.trie = PathTrie.build(seqs)
        closed = [s for s, e in zip(seqs, self.effects) if e != "next"]
        self.closing = PathTrie.build(closed) if len(closed) < len(seqs) else self.trie  # "next" barred at the cap
        self._closed_index = [i for i, e in enumerate(self.effects) if e != "next"]

    def trie_for(self, items: int) -> tuple[PathTrie, list[int]]:
        if self.cap is not None and items >= self.cap and self.closing is not self.trie:
            return self.closing, self._closed_index
        return self.trie, list(range(len(self.texts)))


class _Free:
    """A string's characters (no quote, backslash or control character), at most ``limit``, then its closing quote."""

    def __init__(self, tokenizer: Any, limit: int) -> None:
        self.limit = limit
        self.quote, self.lengths, self.ids = _free_tokens(tokenizer)


@lru_cache(maxsize=2)
def _free_tokens(tokenizer: Any) -> tuple[int, np.ndarray, np.ndarray]:
    quote = next(iter(continuation_ids(tokenizer, ['"'], context="x")))
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))], skip_special_tokens=False)
    special = set(tokenizer.all_special_ids)
    keep = [i for i, t in enumerate(texts) if t and i not in special and not (t.startswith("<") and t.endswith(">"))
            and not any(c in '"\\' or ord(c) < 32 for c in t)]  # fmt: skip
    return quote[0], np.asarray([len(texts[i]) for i in keep]), np.asarray(keep, dtype=np.int64)


class SchemaGrammar:
    """JSON text under a schema of the subset above, as a grammar for ``GrammarDecoder`` (ops with jumps)."""

    def __init__(self, tokenizer: Any, schema: dict[str, Any]) -> None:
        self.tokenizer = tokenizer
        self.ops: list[Any] = []
        self._pending = ""  # literal text not yet emitted as an op
        self._enum: list[str] | None = None  # an enum's texts waiting for the literal that follows them
        self._value(schema, in_array=False)
        self._flush()

    # -- compiling ------------------------------------------------------------------------------

    def _literal(self, text: str) -> None:
        self._pending += text

    def _flush(self) -> None:
        """Emit pending text: as the tail of the enum before it when there is one (``"Ulm", `` is written as the
        model's own tokens write it, ``",`` merged, not a quote then a comma), else as a literal op."""
        if self._enum is not None:
            texts, self._enum = [t + self._pending for t in self._enum], None
            self.ops.append(_Choice(self.tokenizer, texts, [len(self.ops) + 1] * len(texts)))
        elif self._pending:
            self.ops.append(_Choice(self.tokenizer, [self._pending], [len(self.ops) + 1]))
        self._pending = ""

    def _value(self, schema: dict[str, Any], *, in_array: bool) -> None:
        kind = schema.get("type")
        if kind == "object":
            names = list(schema.get("properties", {}))
            if not names:
                raise UnsupportedSchema("an object schema without properties")
            self._literal("{")
            for i, name in enumerate(names):
                self._literal((", " if i else "") + json.dumps(name) + ":")  # values bring their leading space
                self._value(schema["properties"][name], in_array=in_array)
            self._literal("}")
        elif kind == "string" and "enum" in schema:
            self._flush()
            self._enum = [" " + json.dumps(str(v), ensure_ascii=False) for v in schema["enum"]]
            if not self._enum:
                raise UnsupportedSchema("an empty enum")
        elif kind == "string" and "maxLength" in schema:
            self._literal(' "')
            self._flush()
            self.ops.append(_Free(self.tokenizer, int(schema["maxLength"])))
        elif "anyOf" in schema:
            self._any_of(schema["anyOf"])
        elif kind == "array" and (schema.get("items", {}).get("type") == "object" or "anyOf" in schema.get("items", {})) \
                and not in_array:
            self._array(schema["items"], schema.get("maxItems"))
        else:
            raise UnsupportedSchema(f"unsupported JSON schema keyword or type: {json.dumps(schema)[:120]}")

    def _any_of(self, branches: list[dict[str, Any]]) -> None:
        """Objects that differ by a one-value enum as their first property (kgpipe's per-head items: the head, then
        tails other than it): that value chosen first, then the chosen branch's other properties."""
        firsts = []
        for branch in branches:
            props = list(branch.get("properties", {}).items()) if branch.get("type") == "object" else []
            if not props or len(props[0][1].get("enum", ())) != 1:
                raise UnsupportedSchema("anyOf is decoded only over objects whose first property is a one-value enum")
            firsts.append((props[0][0], props[0][1]["enum"][0], dict(props[1:])))
        if len({key for key, _, _ in firsts}) != 1:
            raise UnsupportedSchema("anyOf branches must start with the same property")
        self._literal("{" + json.dumps(firsts[0][0]) + ":")
        self._flush()
        choice = len(self.ops)
        self.ops.append(None)
        texts, targets, lasts = [], [], []
        for _, value, rest in firsts:
            start = len(self.ops)
            for key, sub in rest.items():
                self._literal(", " + json.dumps(key) + ":")
                self._value(sub, in_array=True)
            self._literal("}")
            self._flush()
            head = self.ops[start]  # the literal after the value (", \"relation\":"), written with it
            texts.append(" " + json.dumps(str(value), ensure_ascii=False) + head.texts[0])
            targets.append(start + 1)
            lasts.append(len(self.ops) - 1)
        self.ops[choice] = _Choice(self.tokenizer, texts, targets)
        for last in lasts:  # every branch ends where the anyOf ends
            op = self.ops[last]
            op.targets = [len(self.ops)] * len(op.targets)

    def _array(self, item: dict[str, Any], cap: int | None) -> None:
        self._flush()
        opening = len(self.ops)
        self.ops.append(None)  # the opening choice, filled in once the item's ops exist
        first_item = len(self.ops)
        self._value(item, in_array=True)  # its first literal is the item's "{..." up to the first value
        self._flush()
        head = self.ops[first_item].texts[0]  # '{"head":' (a separator never ends in a space: the value's token has it)
        closing = len(self.ops)
        self.ops.append(None)
        after = len(self.ops)
        if cap == 0:
            self.ops[opening] = _Choice(self.tokenizer, [" []"], [after])
        else:
            self.ops[opening] = _Choice(self.tokenizer, [" []", " [" + head], [after, first_item + 1], ["", "first"])
        self.ops[closing] = _Choice(self.tokenizer, ["]", ", " + head], [after, first_item + 1], ["", "next"], cap)

    # -- the Grammar protocol --------------------------------------------------------------------

    def start(self) -> _State:
        return _State()

    def done(self, state: _State) -> bool:
        return state.pc >= len(self.ops)

    def allowed(self, state: _State) -> np.ndarray:
        op = self.ops[state.pc]
        if isinstance(op, _Free):
            room = op.limit - state.chars
            words = op.ids[op.lengths <= room]
            return words if state.chars == 0 else np.union1d(words, [op.quote])
        trie, _ = op.trie_for(state.items)
        return trie.children(state.node)

    def advance(self, state: _State, token: int) -> _State:
        op = self.ops[state.pc]
        if isinstance(op, _Free):
            if token == op.quote:
                return _State(state.pc + 1, 0, state.items)
            return _State(state.pc, 0, state.items, state.chars + int(op.lengths[np.searchsorted(op.ids, token)]))
        trie, index = op.trie_for(state.items)
        node = trie.step(state.node, token)
        ends = trie.ends(node)
        if not ends:
            return _State(state.pc, node, state.items, state.chars)
        alt = index[ends[0]]
        effect = op.effects[alt]
        items = 1 if effect == "first" else state.items + 1 if effect == "next" else state.items
        return _State(op.targets[alt], 0, items)


class GemmaOpenAI:
    """The server, on a free port; ``requests`` records (path, body) of each request."""

    def __init__(self, local: Any, *, refuse_schema: bool = False, port: int = 0) -> None:
        self.local, self.refuse_schema = local, refuse_schema
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._decoders: dict[str, GrammarDecoder] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server calls it by this name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body))
                send_json(self, *server.answer(self.path, body))

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat = path.endswith("/chat/completions")
        if not chat and not path.endswith("/completions"):
            return 404, {"error": {"message": f"no route {path}"}}
        prompt = str(body["messages"][-1]["content"]) if chat else str(body.get("prompt", ""))
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
        schema = schema if schema is not None else body.get("json_schema")
        if schema is not None and self.refuse_schema:
            return 400, {"error": {"message": "Unrecognized request argument supplied: response_format",
                                   "type": "invalid_request_error"}}  # fmt: skip
        budget = int(body.get("max_tokens") or 128)
        try:
            with self._lock:  # one model, one request at a time
                text = self._structured(prompt, schema, budget) if schema is not None else self._free(prompt, body, budget)
        except UnsupportedSchema as exc:
            return 400, {"error": {"message": str(exc), "type": "invalid_request_error"}}
        choice = {"index": 0, "finish_reason": "stop"}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        return 200, {"object": "chat.completion" if chat else "text_completion", "choices": [choice]}

    def _free(self, prompt: str, body: dict[str, Any], budget: int) -> str:
        stop = body.get("stop") or []
        return str(self.local.generate([prompt], max_new_tokens=budget, stop=[stop] if isinstance(stop, str) else stop)[0])

    def _structured(self, prompt: str, schema: dict[str, Any], budget: int) -> str:
        grammar = SchemaGrammar(self.local.tokenizer, schema)
        cut = prompt.rfind("\nText: ")  # the few-shot part repeats: its keys and values are kept (prefix caching)
        prefix = prompt[: cut + 1] if cut > 0 else ""
        if prefix not in self._decoders:
            if len(self._decoders) >= 4:
                self._decoders.pop(next(iter(self._decoders)))
            self._decoders[prefix] = GrammarDecoder(self.local, prefix=prefix)
        decoded = self._decoders[prefix].decode(prompt, grammar, max_new_tokens=budget)
        return str(self.local.tokenizer.decode(decoded.tokens, skip_special_tokens=True))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":
    import argparse

    from kgpipe.config import Settings
    from kgpipe.llms.transformers import TransformersLLM

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--refuse-schema", action="store_true")
    args = parser.parse_args()
    served = GemmaOpenAI(TransformersLLM("gemma", Settings(progress=False)), refuse_schema=args.refuse_schema, port=args.port)
    print(f"serving the packaged Gemma at {served.url}", flush=True)
    served._thread.join()

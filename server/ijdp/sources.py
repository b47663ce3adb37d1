"""The source documents: one folder each under data/sources/<slug>/.

A folder holds
  snapshot.txt    the document as retrieved, unchanged
  source.toml     its metadata (title, kind, publisher, URL, dates, licence, SHA-256)
  facts.trig      what it states, grouped by quote (each quote must occur in this snapshot)
  exclusions.tsv  sentences that state nothing to publish, each with its reason (optional)

Entities are shared: every folder's facts use the same IRIs, so a fact two
documents state is one triple with a quote from each.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import URIRef

from .config import PUBLISHED_BASE
from .errors import IjdpError

SNAPSHOT, METADATA, FACTS, EXCLUSIONS = "snapshot.txt", "source.toml", "facts.trig", "exclusions.tsv"
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Fields of source.toml: name -> (required, help written into a new stub).
FIELDS = {
    "title": (True, "the document's title, as it states it"),
    "kind": (True, "what the document is: news article, press release, ..."),
    "about": (False, "one line on what it is, for pages and the dataset description"),
    "document": (True, "the document's IRI in the facts, under the base IRI (e.g. id/document/<slug>)"),
    "publisher": (False, "who published it, only where the document states it"),
    "url": (False, "where it was published, only where known"),
    "date": (False, "when it was published (YYYY-MM-DD or YYYY-MM), only where the document states it"),
    "retrieved": (True, "when the snapshot was taken (YYYY-MM-DD)"),
    "licence": (False, "an IRI of the licence the document is under, where known"),
    "sha256": (True, "SHA-256 of snapshot.txt; the build refuses any other snapshot"),
    "invented": (False, "true only for documents written for the tests; never in the published data"),
}
DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")


@dataclass
class Source:
    slug: str
    folder: Path
    text: str
    sha256: str
    metadata: dict = field(default_factory=dict)

    @property
    def snapshot(self) -> Path:
        return self.folder / SNAPSHOT

    @property
    def facts(self) -> Path:
        return self.folder / FACTS

    @property
    def exclusions(self) -> Path:
        return self.folder / EXCLUSIONS

    @property
    def iri(self) -> URIRef:
        """The snapshot's IRI, which every quote of this source points into."""
        return URIRef(f"{PUBLISHED_BASE}source/{self.slug}.txt")

    @property
    def document(self) -> URIRef:
        return URIRef(PUBLISHED_BASE + self.metadata["document"])

    @property
    def title(self) -> str:
        return self.metadata["title"]

    @property
    def invented(self) -> bool:
        return bool(self.metadata.get("invented"))


def sources_folder(data_folder: Path) -> Path:
    return Path(data_folder) / "sources"


def read_sources(data_folder: Path) -> list[Source]:
    """Every source under data_folder/sources/, in slug order; at least one."""
    root = sources_folder(data_folder)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    if not folders:
        raise IjdpError(f"{root}: no source documents (add one with `ijdp new-source FILE --slug SLUG`)")
    sources = [read_source(folder) for folder in folders]
    documents = {}
    for source in sources:
        other = documents.setdefault(source.metadata["document"], source.slug)
        if other != source.slug:
            raise IjdpError(f"{source.folder / METADATA}: document {source.metadata['document']!r} is already "
                            f"the document of source {other!r}; each source is its own document")
    return sources


def read_source(folder: Path) -> Source:
    slug = folder.name
    if not SLUG.fullmatch(slug):
        raise IjdpError(f"{folder}: a source folder is named by its slug: lower-case letters, digits and hyphens")
    for name in (SNAPSHOT, METADATA, FACTS):
        if not (folder / name).is_file():
            raise IjdpError(f"{folder / name}: missing (every source folder holds {SNAPSHOT}, {METADATA} and {FACTS})")
    path = folder / METADATA
    text = path.read_text(encoding="utf-8")
    try:
        metadata = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise IjdpError(f"{path}: {err}") from None
    for name, (required, _) in FIELDS.items():
        value = metadata.get(name)
        if required and not value:
            raise IjdpError(f"{path}: {name!r} is required ({FIELDS[name][1]})")
    unknown = sorted(set(metadata) - set(FIELDS))
    if unknown:
        raise IjdpError(f"{path}:{_line_of(text, unknown[0])}: unknown field {unknown[0]!r} "
                        f"(the fields are {', '.join(FIELDS)})")
    for name in ("date", "retrieved"):
        if metadata.get(name) and not DATE.fullmatch(str(metadata[name])):
            raise IjdpError(f"{path}:{_line_of(text, name)}: {name} must be YYYY-MM-DD or YYYY-MM, not {metadata[name]!r}")
    snapshot = (folder / SNAPSHOT).read_bytes()
    digest = hashlib.sha256(snapshot).hexdigest()
    if metadata["sha256"] != digest:
        raise IjdpError(f"{path}:{_line_of(text, 'sha256')}: sha256 {metadata['sha256']} does not match {SNAPSHOT} "
                        f"({digest}); a snapshot is never edited: if the document changed, add it as a new source")
    try:
        body = snapshot.decode("utf-8")
    except UnicodeDecodeError as err:
        raise IjdpError(f"{folder / SNAPSHOT}: not UTF-8 text (byte {err.start})") from None
    return Source(slug, folder, body, digest, metadata)


def _line_of(text: str, name: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.split("=")[0].strip() == name:
            return number
    return 1


def line_naming(text: str, iri: str, containing: str = "") -> int | None:
    """The first line of an authoring file that starts with this IRI (written whole or as prefix:local) and
    holds `containing`: where a quote's text or a curation's description is, for error messages."""
    local = iri.rstrip("/").rsplit("/", 1)[-1]
    for number, line in enumerate(text.splitlines(), start=1):
        first = line.split(None, 1)[0] if line.split() else ""
        if containing in line and (first == f"<{iri}>" or (":" in first and first.split(":", 1)[1] == local)):
            return number
    return None


FACTS_STUB = """\
# Every fact this source document states, grouped by the quote that states it.
#
# How this file works (README, "How to add a fact"):
# - each named graph is one quote of this folder's snapshot.txt; its name becomes
#   the Web Annotation that points into the snapshot;
# - the default graph gives each quote's exact text (ijdp:quote): it must occur
#   exactly once in snapshot.txt (a quote from another document is refused);
# - nothing goes in a named graph that its quote does not state;
# - use the IRIs the other sources use for the same things (MeitY, India, ...):
#   entities are shared, so a fact two documents state carries both quotes.
#
# An example, to replace:
#   q:signed ijdp:quote "The MoU was signed in May 2024" .
#   q:signed { agreement:some-mou ijdp:signing event:some-mou-signing . }

@prefix ijdp:        <https://w3id.org/ijdp/ontology#> .
@prefix q:           <https://w3id.org/ijdp/id/annotation/{slug}/> .
@prefix agreement:   <https://w3id.org/ijdp/id/agreement/> .
@prefix country:     <https://w3id.org/ijdp/id/country/> .
@prefix organization: <https://w3id.org/ijdp/id/organization/> .
@prefix event:       <https://w3id.org/ijdp/id/event/> .
@prefix document:    <https://w3id.org/ijdp/id/document/> .
@prefix dcterms:     <http://purl.org/dc/terms/> .
@prefix schema:      <https://schema.org/> .
@prefix skos:        <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd:         <http://www.w3.org/2001/XMLSchema#> .
"""

EXCLUSIONS_STUB = """\
# Sentences of this source that state nothing to publish, each with why (see `ijdp coverage`).
# sentence<TAB>reason
"""


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly `text`: backslash, quote and control characters escaped."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def metadata_stub(values: dict) -> str:
    lines = ["# Metadata of one source document (README, \"How to add a document\").",
             "# Fill a field only with what is known; leave \"\" where the document does not say.", ""]
    for name, (required, help) in FIELDS.items():
        value = values.get(name, False if name == "invented" else "")
        shown = "true" if value is True else "false" if value is False else toml_string(str(value))
        lines.append(f"{name} = {shown}  # {'required: ' if required else ''}{help}")
    return "\n".join(lines) + "\n"


def new_source(file: Path, slug: str, data_folder: Path, today: str, title: str = "", kind: str = "") -> Path:
    """Make data/sources/<slug>/ from FILE: the unchanged snapshot, a metadata stub and empty facts."""
    if not SLUG.fullmatch(slug):
        raise IjdpError(f"--slug {slug!r}: use lower-case letters, digits and hyphens (e.g. meity-mou-2024)")
    file = Path(file)
    try:
        data = file.read_bytes()
        data.decode("utf-8")
    except OSError as err:
        raise IjdpError(f"{file}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise IjdpError(f"{file}: not UTF-8 text (byte {err.start}); save the document as UTF-8 text first") from None
    root = sources_folder(data_folder)
    folder = root / slug
    if folder.exists():
        raise IjdpError(f"{folder}: already exists")
    for existing in (p for p in root.iterdir() if p.is_dir()) if root.is_dir() else ():
        if (existing / SNAPSHOT).is_file() and (existing / SNAPSHOT).read_bytes() == data:
            raise IjdpError(f"{file}: the same document is already the source {existing.name!r}")
    first_line = next((line.strip() for line in data.decode("utf-8").splitlines() if line.strip()), "")
    for option, value in (("--title", title), ("--kind", kind)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise IjdpError(f"{option} {value!r}: not text in the terminal's encoding") from None
    values = {"title": title.strip() or first_line[:200], "kind": kind.strip(), "document": f"id/document/{slug}",
              "retrieved": today, "sha256": hashlib.sha256(data).hexdigest()}
    staging = root / f".{slug}.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        (staging / SNAPSHOT).write_bytes(data)
        (staging / METADATA).write_text(metadata_stub(values), encoding="utf-8")
        (staging / FACTS).write_text(FACTS_STUB.replace("{slug}", slug), encoding="utf-8")
        (staging / EXCLUSIONS).write_text(EXCLUSIONS_STUB, encoding="utf-8")
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder

"""OWL 2 consistency check and entailed types, with owlready2's bundled HermiT."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rdflib import OWL, RDF, RDFS, Graph, URIRef

from .errors import IjdpError

JAVA_HELP = (
    "The OWL reasoner (HermiT, bundled with owlready2) needs a Java runtime and none was found.\n"
    "Install one (Debian/Ubuntu: `sudo apt-get install -y default-jre-headless`, or run `make java`), "
    "or build without the consistency check with `ijdp build --skip-reasoner`."
)

# Types not worth recording: every individual has them.
TRIVIAL_TYPES = {OWL.Thing, OWL.NamedIndividual}


class InconsistentOntology(IjdpError):
    exit_status = 1


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def check_consistency(graph: Graph) -> set[tuple[URIRef, URIRef]]:
    """Run HermiT over the graph; return entailed (individual, class) pairs.

    Raises InconsistentOntology with the reasoner's explanation when the
    ontology and data contradict each other.
    """
    if not java_available():
        raise IjdpError(JAVA_HELP)
    import owlready2  # heavy: imported only when reasoning

    with tempfile.TemporaryDirectory(prefix="ijdp-reasoner-") as tmp:
        path = Path(tmp) / "input.nt"
        reasoned = _declare_individuals(graph)
        # owlready2 would fetch what an owl:imports names; rdfio admits only imports of the local catalogue,
        # which the input already holds, so none reaches the reasoner.
        reasoned.remove((None, OWL.imports, None))
        reasoned.serialize(destination=str(path), format="nt", encoding="utf-8")
        world = owlready2.World()
        ontology = world.get_ontology(path.as_uri()).load()
        asserted = _types(world)
        try:
            with ontology:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError as err:
            raise InconsistentOntology(_explain(world, err)) from None
        except owlready2.base.OwlReadyJavaError as err:
            raise IjdpError(f"the OWL reasoner failed: {_first_lines(str(err))}") from None
        entailed = _types(world, indirect=True)
    return {pair for pair in entailed - asserted if pair[1] not in TRIVIAL_TYPES}


def _declare_individuals(graph: Graph) -> Graph:
    """A copy of the graph where every typed resource is an owl:NamedIndividual.

    owlready2 only treats declared named individuals as individuals.
    """
    declared = Graph()
    declared += graph
    schema_types = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
                    OWL.Ontology, OWL.FunctionalProperty, OWL.TransitiveProperty, OWL.SymmetricProperty,
                    RDFS.Datatype, OWL.Axiom}
    for subject, cls in graph.subject_objects(RDF.type):
        if isinstance(subject, URIRef) and cls not in schema_types:
            declared.add((subject, RDF.type, OWL.NamedIndividual))
    return declared


def _types(world, indirect=False) -> set[tuple[URIRef, URIRef]]:
    pairs = set()
    for individual in world.individuals():
        classes = individual.INDIRECT_is_a if indirect else individual.is_a
        for cls in classes:
            iri = getattr(cls, "iri", None)
            if iri:
                pairs.add((URIRef(individual.iri), URIRef(iri)))
    return pairs


def _explain(world, err) -> str:
    lines = ["the ontology and data are inconsistent (HermiT)."]
    inconsistent = [c.iri for c in world.inconsistent_classes() if getattr(c, "iri", None)]
    if inconsistent:
        lines.append("Unsatisfiable classes: " + ", ".join(sorted(inconsistent)))
    clashes = _disjointness_clashes(world)
    lines.extend(clashes)
    detail = _first_lines(str(err))
    if detail:
        lines.append("Reasoner said: " + detail)
    return "\n".join(lines)


def _disjointness_clashes(world) -> list[str]:
    """Individuals asserted to belong to two classes the ontology declares disjoint."""
    found = []
    for individual in world.individuals():
        ancestors = set()
        for cls in individual.is_a:
            if hasattr(cls, "ancestors"):
                ancestors |= set(cls.ancestors())
        for disjoint in world.disjoint_classes():
            members = [c for c in disjoint.entities if c in ancestors]
            if len(members) >= 2:
                names = " and ".join(sorted(c.iri for c in members))
                found.append(f"{individual.iri} is a {names}, which are declared disjoint")
    return sorted(set(found))


def _first_lines(text: str, count: int = 3) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines()[:count])

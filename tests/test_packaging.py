"""A non-editable install carries the ontology, shapes, data and queries."""
import os
import subprocess
import sys

from conftest import REPO


def test_wheel_install_finds_its_own_resources(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                            "-w", str(wheels), str(REPO)], check=True, capture_output=True, text=True)
    assert "deprecated" not in (built.stdout + built.stderr).lower()
    wheel = next(wheels.glob("ijdp-*.whl"))
    import zipfile
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()
        assert "License-Expression: MIT AND CC-BY-4.0" in metadata
        assert any(n.endswith("licenses/LICENSE") for n in archive.namelist())
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    probe = (
        "import ijdp, ijdp.resources as r, ijdp.knowledge as k;"
        "print(ijdp.__file__);"
        "print(len(r.ontology_files()), len(r.shapes_files()), len(list(r.queries_folder().glob('*.rq'))));"
        "print(len(k.assemble().graphs['facts']))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith(str(target))
    ontologies, shapes, queries = map(int, out[1].split())
    assert ontologies >= 1 and shapes >= 1 and queries >= 15
    assert int(out[2]) > 100

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
    assert "absent from the `packages` configuration" not in built.stdout + built.stderr
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


def test_pip_install_then_ijdp_serve_in_a_fresh_venv_without_java(tmp_path):
    """`pip install . && ijdp serve`: no dist/, no Java, a fresh virtual environment; it builds and serves."""
    import json
    import site
    import socket
    import urllib.parse
    import urllib.request
    import venv

    from test_live_server import wait_healthy

    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    packages = next((fresh / "lib").glob("python3*/site-packages"))
    # The dependencies come from the project's environment (no downloads in a test); ijdp itself is installed.
    (packages / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    python = fresh / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                str(REPO)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": str(fresh / "bin"), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "LANG": "C.UTF-8"}
    server = subprocess.Popen([str(fresh / "bin" / "ijdp"), "serve", "--port", str(port)], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_healthy(base, server, seconds=180)
        query = urllib.parse.urlencode({"query": "ASK { <https://w3id.org/ijdp/id/country/japan> ?p ?o }"})
        with urllib.request.urlopen(base + "sparql?" + query, timeout=10) as response:
            assert json.loads(response.read())["boolean"] is True
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    said = [line for line in errors.splitlines() if line.startswith("ijdp: no build in dist/")]
    assert len(said) == 1, errors
    assert "built now into" in said[0] and "OWL reasoner skipped: no Java runtime" in said[0]
    assert "Traceback" not in errors
    # The other commands that read the build find the same one.
    asked = subprocess.run([str(fresh / "bin" / "ijdp"), "query", "--format", "json",
                            "ASK { <https://w3id.org/ijdp/id/country/japan> ?p ?o }"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["boolean"] is True
    assert "built earlier into " + said[0].split("built now into ", 1)[1].split(" (")[0] in asked.stderr


def test_make_serve_installs_only_the_runtime_dependencies():
    """`make serve` sets up a lean environment; only `make test` adds the test extras."""
    def commands(target):
        return subprocess.run(["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout
    serving = [line for line in commands("serve").splitlines() if "pip install" in line]
    assert serving and all("[test" not in line for line in serving), serving
    assert any("-e '.[test]'" in line for line in commands("test").splitlines())

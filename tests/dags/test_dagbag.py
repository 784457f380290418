"""Every DAG in dags/ imports cleanly, fast, and the provider is registered with Airflow."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import REPO


def test_dags_import_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(REPO / "dags"))

    assert dagbag.import_errors == {}
    assert "gt_image_classification" in dagbag.dags
    for dag in dagbag.dags.values():
        assert dag.doc_md, f"{dag.dag_id} has no documentation for the UI"
        assert dag.tags, f"{dag.dag_id} has no tags"


def test_dag_file_imports_no_heavy_libraries():
    """The DAG processor must not pay for sklearn, PIL, moto or pandas at parse time."""
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]); "
        "heavy = [m for m in ('sklearn', 'PIL', 'moto', 'pandas', 'numpy.linalg') if m in sys.modules]; "
        "print('HEAVY:' + ','.join(heavy))"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "dags" / "gt_image_classification.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "HEAVY:\n" in result.stdout, f"heavy modules imported at parse time: {result.stdout}"
    print(f"parse in a fresh interpreter: {time.monotonic() - started:.2f} s")


def test_provider_is_registered_through_its_entry_point():
    from airflow.providers_manager import ProvidersManager

    providers = ProvidersManager().providers
    assert "gt-provider" in providers
    assert providers["gt-provider"].data["name"] == "Ground Truth"


def test_gt_provider_and_its_libraries_do_not_import_airflow():
    code = (
        "import sys, gt_provider, gt_provider.task_types, gt_provider.labeling_request, "
        "gt_provider.datasets.split, gt_provider.manifests.build, gt_provider.status; "
        "print('airflow' in sys.modules, 'boto3' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"

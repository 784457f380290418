"""Every DAG in dags/ imports cleanly, fast, and the provider is registered with Airflow."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import REPO


def test_dags_import_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(REPO / "dags"))

    assert dagbag.import_errors == {}
    assert set(dagbag.dags) >= {
        "gt_image_classification",
        "gt_text_classification",
        "gt_object_detection_with_review",
        "gt_train_on_dataset",
    }
    for dag in dagbag.dags.values():
        assert dag.doc_md, f"{dag.dag_id} has no documentation for the UI"
        assert dag.tags, f"{dag.dag_id} has no tags"


#: What the DAG processor must not pay for at parse time (and boto3 for include/pipeline.py,
#: which the DAG files import: the Amazon provider's operators bring boto3 to DAG files anyway).
HEAVY = ("sklearn", "PIL", "moto", "pandas", "numpy.linalg", "matplotlib", "pyarrow", "datasets", "mlcroissant")
DAG_FILES = sorted(path.name for path in (REPO / "dags").glob("*.py"))


def _heavy_modules_after(statement: str, *argv: str) -> list[str]:
    """The heavy modules in sys.modules after ``statement`` runs in a fresh interpreter."""
    code = f"import sys, runpy; {statement}; print('HEAVY:' + ','.join(m for m in sys.argv[1:] if m in sys.modules))"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True, cwd=REPO)
    print(f"{statement} in a fresh interpreter: {time.monotonic() - started:.2f} s")
    [line] = [line for line in result.stdout.splitlines() if line.startswith("HEAVY:")]
    return [name for name in line.removeprefix("HEAVY:").split(",") if name]


def test_every_dag_file_is_checked():
    assert len(DAG_FILES) >= 4 and "gt_train_on_dataset.py" in DAG_FILES


@pytest.mark.parametrize("dag_file", DAG_FILES)
def test_dag_file_imports_no_heavy_libraries(dag_file):
    """The DAG processor must not pay for sklearn, PIL, moto or pandas at parse time."""
    path = REPO / "dags" / dag_file
    heavy = _heavy_modules_after(f"runpy.run_path({str(path)!r})", *HEAVY)

    assert heavy == [], f"{dag_file} imports heavy modules at parse time: {heavy}"


def test_the_shared_pipeline_module_is_light():
    """include/pipeline.py is imported with every DAG file: not even boto3 at import."""
    heavy = _heavy_modules_after("import include.pipeline", *HEAVY, "numpy", "boto3", "botocore")

    assert heavy == [], f"include/pipeline.py imports heavy modules: {heavy}"


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

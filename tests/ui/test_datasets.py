"""The dataset card page's parts that need no browser: what a build returned, reading and rendering a card.

The page itself (a link on the Labeling jobs page to the card of the version a run built,
its plot shown) is tested in a real browser against the native stack: tests/stack/test_browser.py.
"""

from __future__ import annotations

import pytest

from gt_provider.ui.datasets import BuiltDataset, CardNotFound, card_html, read_version_file

RESULT = {
    "name": "digits",
    "version": 3,
    "uri": "s3://bucket/datasets/digits/v=3/",
    "card_uri": "s3://bucket/datasets/digits/v=3/dataset.json",
    "total": 12,
}


def test_a_build_result_names_its_version_and_other_return_values_do_not():
    built = BuiltDataset.from_result("dag", "run", "build_dataset", RESULT)
    assert built == BuiltDataset("dag", "run", "build_dataset", "digits", 3, "s3://bucket/datasets/digits/v=3/")
    assert built.file_uri("README.md") == "s3://bucket/datasets/digits/v=3/README.md"
    assert BuiltDataset.from_result("dag", "run", "label_images", {"job_name": "j", "status": "Completed"}) is None
    assert BuiltDataset.from_result("dag", "run", "t", {**RESULT, "version": "three"}) is None
    assert BuiltDataset.from_result("dag", "run", "t", "s3://bucket/x") is None


def test_the_card_renders_with_its_plots_through_the_page_and_typed_html_escaped():
    markdown = (
        "# digits — version 3\n\n| class | train |\n|---|---|\n| zero | 4 |\n\n"
        "![Objects per class and split](class-distribution.png)\n\n"
        "![elsewhere](https://example.com/x.png)\n\nLabel <script>alert(1)</script>\n"
    )
    html = card_html(markdown, lambda name: f"dataset-card/files/{name}?run=1")
    assert "<h1>digits — version 3</h1>" in html and "<td>zero</td>" in html
    assert 'src="dataset-card/files/class-distribution.png?run=1"' in html
    assert 'src="https://example.com/x.png"' in html  # not a file of the version: left as written
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_only_the_card_and_its_plots_are_read_from_the_version_folder(aws):
    s3 = aws.client("s3")
    prefix = "datasets/digits/v=3/"
    s3.put_object(Bucket=aws.bucket, Key=f"{prefix}README.md", Body=b"# digits\n")
    s3.put_object(Bucket=aws.bucket, Key=f"{prefix}class-distribution.png", Body=b"\x89PNG...")
    built = BuiltDataset("dag", "run", "build_dataset", "digits", 3, f"s3://{aws.bucket}/{prefix}")

    assert read_version_file(built, "README.md") == b"# digits\n"
    assert read_version_file(built, "class-distribution.png") == b"\x89PNG..."
    for name in ("dataset.json", "../v=2/README.md", "train.manifest", ".hidden.png"):
        with pytest.raises(CardNotFound, match="not a file the dataset card shows"):
            read_version_file(built, name)
    with pytest.raises(CardNotFound, match=rf"cannot read s3://{aws.bucket}/{prefix}missing.png"):
        read_version_file(built, "missing.png")


def test_a_card_built_into_a_local_folder_is_read_there_or_said_missing(tmp_path):
    (tmp_path / "README.md").write_text("# local\n")
    built = BuiltDataset("dag", "run", "build_dataset", "local", 1, f"{tmp_path}/")
    assert read_version_file(built, "README.md") == b"# local\n"
    with pytest.raises(CardNotFound, match="is not on this server"):
        read_version_file(built, "class-distribution.png")

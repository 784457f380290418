"""A build on several processes writes the dataset one process writes.

The processes are real (``python -c`` children talking pickles over pipes); only the size
below which a build stays in one process is lowered, so that files of a few kilobytes are
split between processes as a million-line manifest is.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_provider.datasets.build import DatasetSpec, build_dataset
from gt_provider.datasets.card.statistics import DatasetStatistics
from gt_provider.datasets.errors import DatasetError, DatasetReadError, MalformedOutputManifestError
from gt_provider.datasets.passes import parallel
from gt_provider.datasets.passes.inputs import Source, number_parts
from gt_provider.s3io import S3ClientProvider
from tests.datasets.test_build import ATTRIBUTE, output_line, write
from tests.labeling_fixtures import CLASSES

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _split_small_inputs(monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)


def _manifest(path: Path, count: int, *, seed: int = 0, repeats: int = 0, failed_every: int = 13) -> str:
    """``count`` image-classification lines, uneven classes, every ``failed_every``-th failed (0: none),
    ``repeats`` sources labeled again later."""
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        label = (
            None
            if failed_every and index % failed_every == 5
            else rng.choices(CLASSES, weights=range(len(CLASSES), 0, -1))[0]
        )
        lines.append(output_line(f"s3://b/img/{index}.png", label, confidence=rng.choice((0.55, 0.8, 0.97))))
    labeled = [index for index in range(count) if not failed_every or index % failed_every != 5]
    for index in rng.sample(labeled, repeats):  # relabeled later, with a later date: these labels win
        lines.append(output_line(f"s3://b/img/{index}.png", CLASSES[0], date="2026-11-05T00:00:00"))
    return write(path, lines)


def _build(sources: list[str], root: Path, workers: int, **spec: object) -> dict:
    spec.setdefault("formats", ("augmented-manifest", "jsonl"))
    built = build_dataset(sources, str(root), DatasetSpec(name="p", **spec), workers=workers, now=NOW)  # type: ignore[arg-type]
    return dict(built.card)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        # They name their own folder (croissant.json gives README.md's size and sha256).
        if path.is_file() and path.name not in {"dataset.json", "README.md", "croissant.json"}
    }


def _same_card(one: dict, other: dict) -> None:
    one, other = dict(one), dict(other)
    assert one.pop("uri") != other.pop("uri")
    assert one == other


@pytest.mark.parametrize("workers", [2, 3])
def test_the_files_and_card_are_the_ones_one_process_writes(tmp_path, workers):
    manifest = _manifest(tmp_path / "out.manifest", 400, repeats=0)

    serial = _build([manifest], tmp_path / "one", 1)
    split = _build([manifest], tmp_path / "many", workers)

    _same_card(serial, split)
    assert _files(tmp_path / "one") == _files(tmp_path / "many")
    assert serial["counts"]["total"] == 400 - len(range(5, 400, 13))


def test_a_source_labeled_in_two_ranges_keeps_its_latest_label_once(tmp_path):
    # Every repeat is in the last ~10 % of the file and its first label in the rest: most
    # pairs are read by two processes and settled by the build.
    manifest = _manifest(tmp_path / "out.manifest", 300, repeats=30)

    serial = _build([manifest], tmp_path / "one", 1)
    split = _build([manifest], tmp_path / "many", 2)

    _same_card(serial, split)
    assert serial["counts"]["dropped"]["duplicate"] == 30
    one, many = _files(tmp_path / "one"), _files(tmp_path / "many")
    assert one.keys() == many.keys()
    for name in one:  # the settled labels are written after the others: same lines, other order
        assert sorted(one[name].splitlines()) == sorted(many[name].splitlines()), name


def test_a_version_built_on_its_parent_in_several_processes_matches(tmp_path):
    first = _manifest(tmp_path / "night-1.manifest", 200, seed=1)
    second = _manifest(tmp_path / "night-2.manifest", 150, seed=2)
    for root in ("one", "many"):
        _build([first], tmp_path / root, 1)

    serial = _build([second], tmp_path / "one", 1)
    split = _build([second], tmp_path / "many", 3)  # ranges cut across the parent's files and the new one

    assert serial["version"] == split["version"] == 2
    for card in (serial, split):  # sources name their own folder
        for source in card["sources"]:
            source["manifest"] = source["manifest"].rsplit("/v=", 1)[-1]
    _same_card(serial, split)
    assert _files(tmp_path / "one") == _files(tmp_path / "many")


def test_worker_statistics_see_the_objects_of_every_range(tmp_path):
    """A job's output in Ground Truth's layout, locally: answers of three workers per object."""
    job = tmp_path / "output" / "job-1"
    (job / "manifests" / "output").mkdir(parents=True)
    manifest = _manifest(job / "manifests" / "output" / "output.manifest", 90, failed_every=0)
    labels = [
        json.loads(line)[f"{ATTRIBUTE}-metadata"]["class-name"] for line in Path(manifest).read_text().splitlines()
    ]
    for object_id, label in enumerate(labels):
        folder = job / "annotations" / "worker-response" / "iteration-1" / str(object_id)
        folder.mkdir(parents=True)
        wrong = CLASSES[(CLASSES.index(label) + 1) % len(CLASSES)]
        answers = [
            {"workerId": worker, "answerContent": {"crowd-image-classifier": {"label": answer}}}
            for worker, answer in (("a", label), ("b", label if object_id % 3 else wrong), ("c", wrong))
        ]
        (folder / "2026-11-02_03:04:05.json").write_text(json.dumps({"answers": answers}))

    serial = _build([manifest], tmp_path / "one", 1)
    split = _build([manifest], tmp_path / "many", 2)

    _same_card(serial, split)
    [statistics] = split["workers"].values()
    assert statistics["scored_answers"] == 3 * 90  # every object was compared, whichever process read it
    agreement = {worker["worker_id"]: worker["agreement"] for worker in statistics["workers"]}
    assert agreement == {"a": 1.0, "b": round(60 / 90, 4), "c": 0.0}


def test_malformed_lines_in_any_range_are_reported_with_their_line_numbers(tmp_path):
    lines = [output_line(f"s3://b/{index}.png", "cat") for index in range(60)]
    lines[7] = "{not json"
    lines[44] = '{"source-ref": "s3://b/44.png"}'
    lines.insert(30, "")  # a blank line: skipped, but counted
    manifest = write(tmp_path / "bad.manifest", lines)

    reported = []
    for workers in (1, 2, 3):
        with pytest.raises(MalformedOutputManifestError) as raised:
            _build([manifest], tmp_path / f"ds-{workers}", workers)
        reported.append(raised.value.line_numbers)
        assert not (tmp_path / f"ds-{workers}").exists()
    assert reported == [[8, 46]] * 3


def test_an_error_in_a_build_process_reaches_the_build(tmp_path):
    manifest = _manifest(tmp_path / "out.manifest", 50)

    with pytest.raises(
        DatasetError, match=r"fasttext exports inline text \('source'\); the object at output manifest line 1 "
    ):
        _build([manifest], tmp_path / "ds", 2, formats=("fasttext",))


def test_a_build_process_that_dies_is_an_error_not_a_hang():
    with parallel.Pool(1) as pool:
        pool._processes[0].kill()
        pool._processes[0].wait()
        with pytest.raises(DatasetError, match="stopped with exit code -9"):
            pool.run("scan", [([], None, [])])


def test_a_failed_build_stops_its_processes_at_once():
    with pytest.raises(RuntimeError), parallel.Pool(2) as pool:
        processes = list(pool._processes)
        raise RuntimeError("the build failed while the processes worked")

    assert [process.returncode for process in processes] == [-9, -9]


def test_what_stays_in_one_process(tmp_path, monkeypatch):
    manifest = _manifest(tmp_path / "out.manifest", 20)
    sources = [Source(manifest)]
    lines_formats = ("augmented-manifest", "jsonl")

    assert parallel.plan(sources, lines_formats, 2) is not None
    assert parallel.plan(sources, lines_formats, 1) is None
    assert parallel.plan(sources, (*lines_formats, "csv"), 2) is None  # a header per file: not appendable
    assert parallel.plan([Source(str(tmp_path / "missing"))], lines_formats, 2) is None  # the scan says why
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", Path(manifest).stat().st_size + 1)
    assert parallel.plan(sources, lines_formats, 2) is None


@settings(max_examples=60, deadline=None)
@given(
    files=st.lists(
        st.lists(st.sampled_from([b"", b"{}", b'{"a": 1}', b"x" * 300, b" "]), max_size=30), min_size=1, max_size=4
    ),
    workers=st.integers(2, 5),
    last_newline=st.booleans(),
)
def test_the_ranges_hold_every_line_once_with_its_number(tmp_path_factory, files, workers, last_newline):
    folder = tmp_path_factory.mktemp("ranges")
    sources = []
    for index, lines in enumerate(files):
        data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
        path = folder / f"{index}.manifest"
        path.write_bytes(data)
        sources.append(Source(str(path)))

    groups = parallel.plan(sources, ("jsonl",), workers, min_bytes=0) or [
        [parallel.Part(index) for index in range(len(sources))]
    ]

    assert len(groups) <= workers
    parts = [part for group in groups for part in group]
    # Each range is read on its own, as a process reads it: numbered from 1 until the lines before it are counted.
    counts = [sum(1 for _ in part.lines(sources[part.source], None)) for part in parts]
    numbered = number_parts(parts, counts)
    read = [(part.source, *line) for part in numbered for line in part.lines(sources[part.source], None)]
    assert read == expected_lines(sources)


def expected_lines(sources: list[Source]) -> list[tuple[int, int, bytes]]:
    return [
        (index, number, line)
        for index, source in enumerate(sources)
        for number, line in enumerate(Path(source.uri).read_bytes().splitlines(keepends=True), 1)
    ]


def test_statistics_gathered_apart_add_up_to_the_ones_gathered_together(tmp_path):
    from gt_provider.datasets.reading.parse import read_output_manifest

    manifest = _manifest(tmp_path / "out.manifest", 120)
    objects = list(read_output_manifest(manifest))
    together, first, second = (DatasetStatistics(["train", "test"]) for _ in range(3))
    for index, item in enumerate(objects):
        split = "train" if index % 4 else "test"
        if item.failed:
            for stats in (together, first if index < 70 else second):
                stats.drop("failed")
            continue
        together.add(split, item)
        (first if index < 70 else second).add(split, item)

    first.merge(second)

    assert first.to_dict() == together.to_dict()
    with pytest.raises(DatasetError, match="cannot merge"):
        first.merge(DatasetStatistics(["train"]))


def test_the_command_takes_a_number_of_processes(tmp_path, capsys):
    from gt_provider.datasets.__main__ import main

    manifest = _manifest(tmp_path / "out.manifest", 80)

    assert main(["build", manifest, "--out", str(tmp_path / "ds"), "--workers", "2"]) == 0
    assert "in 2 processes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["build", manifest, "--out", str(tmp_path / "ds"), "--workers", "0"])
    assert "--workers: must be a whole number of at least 1, got '0'" in capsys.readouterr().err


# ------------------------------------------------------------------ from S3: ranged GETs, a client per process


def _upload(aws, key: str, path: str) -> str:
    return aws.put_text(key, Path(path).read_text())


def _s3_client(aws):
    # Credentials given to this client only: the build's processes must use these, not the environment's.
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="build-key",
        aws_secret_access_key="build-secret",
    )


def test_an_s3_build_on_several_processes_is_the_local_one(tmp_path, aws, monkeypatch):
    first = _manifest(tmp_path / "night-1.manifest", 300, seed=1, repeats=10)
    second = _manifest(tmp_path / "night-2.manifest", 120, seed=2)
    uris = [_upload(aws, "out/night-1.manifest", first), _upload(aws, "out/night-2.manifest", second)]
    client = _s3_client(aws)
    # Nothing in the environment says where the local AWS is or who the build is.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    messages: list[str] = []

    local = _build([first, second], tmp_path / "local", 1)
    built = build_dataset(
        uris,
        str(tmp_path / "from-s3"),
        DatasetSpec(name="p", formats=("augmented-manifest", "jsonl")),
        s3_client=client,
        workers=3,
        now=NOW,
        log=messages.append,
    )

    assert "reading 2 output manifest(s) in 3 processes" in messages
    card = dict(built.card)
    assert [source["manifest"] for source in card["sources"]] == uris
    for one in (card, local):
        for source in one["sources"]:
            source["manifest"] = source["manifest"].rsplit("/", 1)[-1]
        one.pop("fingerprint")  # of the inputs' identities: ETags on S3, sizes and times here
    _same_card(local, card)
    one, many = _files(tmp_path / "local"), _files(tmp_path / "from-s3")
    assert one.keys() == many.keys()
    for name in one:  # sources labeled in two ranges are written after the others
        assert sorted(one[name].splitlines()) == sorted(many[name].splitlines()), name


def test_malformed_lines_of_an_s3_input_are_reported_at_their_line_numbers(tmp_path, aws):
    lines = [output_line(f"s3://b/{index}.png", "cat") for index in range(90)]
    lines[7] = "{not json"
    lines[71] = '{"source-ref": "s3://b/71.png"}'
    lines.insert(40, "")  # a blank line: skipped, but counted
    uri = aws.put_text("out/bad.manifest", "\n".join(lines) + "\n")

    for workers in (1, 2, 3):
        with pytest.raises(MalformedOutputManifestError) as raised:
            build_dataset(
                [uri],
                str(tmp_path / f"ds-{workers}"),
                DatasetSpec(name="p"),
                s3_client=aws.client("s3"),
                workers=workers,
            )
        assert raised.value.line_numbers == [8, 73], workers


def test_s3_ranges_hold_every_line_once_with_its_number(tmp_path, aws):
    contents = [b"", b"{}\n" * 5 + b'{"a": 1}', b"x" * 300 + b"\n\n \n", b'{"b": 2}\n' * 40]
    s3 = aws.client("s3")
    sources, local = [], []
    for index, data in enumerate(contents):
        s3.put_object(Bucket=aws.bucket, Key=f"ranges/{index}", Body=data)
        sources.append(Source(f"s3://{aws.bucket}/ranges/{index}"))
        (tmp_path / str(index)).write_bytes(data)
        local.append(Source(str(tmp_path / str(index))))

    for workers in (2, 3, 7):
        groups = parallel.plan(sources, ("jsonl",), workers, min_bytes=0, s3=S3ClientProvider(s3))
        assert groups is not None and 1 < len(groups) <= workers
        assert all(source.etag for source in sources[1:])  # the version every later GET asks for
        parts = [part for group in groups for part in group]
        counts = [sum(1 for _ in part.lines(sources[part.source], s3)) for part in parts]
        read = [
            (part.source, *line)
            for part in number_parts(parts, counts)
            for line in part.lines(sources[part.source], s3)
        ]
        assert read == expected_lines(local)


def test_an_s3_input_replaced_during_the_build_is_an_error_not_a_mix(tmp_path, aws):
    manifest = _manifest(tmp_path / "out.manifest", 60)
    uri = _upload(aws, "out/replaced.manifest", manifest)
    s3 = S3ClientProvider(aws.client("s3"))
    sources = [Source(uri)]
    [_, second] = parallel.plan(sources, ("jsonl",), 2, min_bytes=0, s3=s3)
    [process_view] = parallel._readable(sources, s3)  # what a build process reads: a presigned URL

    aws.put_text("out/replaced.manifest", Path(manifest).read_text().replace("cat", "dog"))

    changed = rf"^{uri} changed while it was read \(its ETag is no longer "
    with pytest.raises(DatasetReadError, match=changed):
        list(second[0].lines(sources[0], s3()))  # this process, with its client
    with pytest.raises(DatasetReadError, match=changed):
        list(second[0].lines(process_view, None))  # a build process, with the URL alone


def test_the_build_processes_read_s3_with_no_client_and_no_secret(tmp_path, aws):
    uri = aws.put_text("out/small.manifest", output_line("s3://b/1.png", "cat") + "\n")
    client = _s3_client(aws)
    etag = client.head_object(Bucket=aws.bucket, Key="out/small.manifest")["ETag"]

    [readable] = parallel._readable([Source(uri, etag=etag)], S3ClientProvider(client))

    assert readable.url.startswith(f"{aws.endpoint_url}/{aws.bucket}/out/small.manifest?")
    assert "Signature=" in readable.url and "build-secret" not in readable.url
    assert readable.etag == etag
    [(number, line)] = list(parallel.Part(0, 0, None).lines(readable, None))
    assert number == 1 and json.loads(line)["source-ref"] == "s3://b/1.png"


@pytest.mark.parametrize("workers", [1, 2])
def test_an_s3_input_is_read_once_the_second_pass_reads_the_first_ones_copy(tmp_path, aws, workers):
    manifest = _manifest(tmp_path / "out.manifest", 200, seed=3)
    uri = _upload(aws, "out/once.manifest", manifest)
    client = aws.client("s3")
    gets: list[str] = []  # GetObject requests of this client for the manifest (a real client; the hook only counts)
    client.meta.events.register(
        "before-call.s3.GetObject",
        lambda params, **_: (
            gets.append(params.get("headers", {}).get("Range", "whole"))
            if params["url_path"].endswith("/out/once.manifest")
            else None
        ),
    )
    messages: list[str] = []

    built = build_dataset(
        [uri], str(tmp_path / "ds"), DatasetSpec(name="p"), s3_client=client, workers=workers, log=messages.append
    )

    assert built.card["counts"]["total"] == _build([manifest], tmp_path / "local", 1)["counts"]["total"]
    if workers == 1:
        assert gets == ["whole"]  # one GET for both passes
    else:
        assert "reading 1 output manifest(s) in 2 processes" in messages
        assert len(gets) == 1 and gets[0].startswith("bytes=")  # this process: the 64 KiB look for the cut only

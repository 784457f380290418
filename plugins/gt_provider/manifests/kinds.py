"""The kinds of manifest error, defined once.

A report counts errors by kind and every reported error names one, so dashboards, tests and
people fixing a manifest by hand all speak of the same few things. The values are stable
strings: they appear in JSON reports and XCom.

Each line gets at most one line-level kind (the first problem found, in the order listed
below; ``bom`` aside, which drop mode repairs); a line that passes them can still be a
duplicate, be over the task type's object limit, or fail an S3 object check. ``line`` is None
for the file-level kind ``empty_manifest``.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What is wrong with a manifest line (or, for ``empty_manifest``, the whole file).

    Line-level, checked on every line in this order:

    - ``bom``: the line starts with a UTF-8 byte order mark (U+FEFF). Ground Truth reads
      plain UTF-8; in drop mode the mark is removed and the rest of the line is kept when valid.
    - ``invalid_utf8``: the line's bytes are not UTF-8 (for example a file saved as UTF-16 or Latin-1).
    - ``blank_line``: empty or whitespace only; Ground Truth wants one JSON object per line.
    - ``line_too_long``: more than 100,000 characters.
    - ``invalid_json``: not parseable JSON (including a last line cut short by a truncated upload).
    - ``not_an_object``: valid JSON, but an array, string, number, boolean or null.
    - ``dollar_key``: an attribute name begins with ``$``.
    - ``missing_source``: no ``source-ref`` (or, for text, no ``source``) key, often a misspelling.
    - ``invalid_source``: the source is not usable: not an ``s3://bucket/key`` URI, not a string,
      empty text, or both ``source`` and ``source-ref`` given.
    - ``value_too_long``: an attribute value longer than 20,000 characters.
    - ``schema``: anything else the task type's line schema requires, such as the earlier job's
      label attribute and its ``-metadata`` in a review job, or ``source-ref-metadata`` for a
      3D point cloud frame.

    After the whole file is read:

    - ``duplicate_source``: the same source as an earlier line (that earlier line is kept).
    - ``too_many_objects``: more valid objects than the task type's ``max_dataset_objects``; one
      error, on the line of the first object over the limit (drop mode drops it and all later ones).
    - ``empty_manifest``: no valid data object at all (file-level, ``line`` is None).

    Only with object checks (``check_objects=True``), for the referenced S3 objects:

    - ``bad_extension``: a file extension the task type does not read (for example ``.gif`` for images).
    - ``object_missing``: no such S3 object.
    - ``object_unreadable``: the object exists but cannot be read (access denied, other S3 errors).
    - ``object_too_large``: larger than the task type allows (40 MB for images).
    - ``invalid_frame_sequence``: a video frame or point cloud sequence file that is not valid.
    """

    BOM = "bom"
    INVALID_UTF8 = "invalid_utf8"
    BLANK_LINE = "blank_line"
    LINE_TOO_LONG = "line_too_long"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    DOLLAR_KEY = "dollar_key"
    MISSING_SOURCE = "missing_source"
    INVALID_SOURCE = "invalid_source"
    VALUE_TOO_LONG = "value_too_long"
    SCHEMA = "schema"
    DUPLICATE_SOURCE = "duplicate_source"
    TOO_MANY_OBJECTS = "too_many_objects"
    EMPTY_MANIFEST = "empty_manifest"
    BAD_EXTENSION = "bad_extension"
    OBJECT_MISSING = "object_missing"
    OBJECT_UNREADABLE = "object_unreadable"
    OBJECT_TOO_LARGE = "object_too_large"
    INVALID_FRAME_SEQUENCE = "invalid_frame_sequence"


#: Kinds that the JSON Schema of a line decides: a line has none of them exactly when
#: ``jsonschema`` accepts it (string values only for ``value_too_long``; the length of
#: non-string values is beyond JSON Schema and checked by the validator alone).
SCHEMA_KINDS: frozenset[ErrorKind] = frozenset(
    {
        ErrorKind.NOT_AN_OBJECT,
        ErrorKind.DOLLAR_KEY,
        ErrorKind.MISSING_SOURCE,
        ErrorKind.INVALID_SOURCE,
        ErrorKind.VALUE_TOO_LONG,
        ErrorKind.SCHEMA,
    }
)

"""The two passes of a dataset build, and the split decided between them.

**Scanning** (:mod:`.scan`) reads every line quickly (:meth:`OutputManifestParser.scan`: the
source, whether it failed, its class names): enough to find sources labeled more than once,
to build the label map and to decide every object's split -- which needs all objects of a
class at once.

**Writing** (:mod:`.write`) then parses every line fully, once: it reports malformed lines
(all of them; the build raises before anything is committed), applies filters and label
renaming, holds a source labeled more than once until its last label is read so that the
newest label wins (metadata ``creation-date``; on a tie, the later one read), and hands each
kept object to the exporters and the statistics, in its split.

Per object the passes keep a few machine words in arrays (source digest, status, stratum,
line number), never the object.

Both passes read parts (:class:`~.inputs.Part`): a whole source, or one byte range of a local
file, so that :mod:`.parallel` can hand each process its own range and merge what they
found; run in one process, every source is one part.
"""

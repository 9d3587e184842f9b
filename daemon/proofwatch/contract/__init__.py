"""The contract with the tracker: the files it and the daemon share in the watched folder.

`request`: NAME.EXT.request.json (its name, reading and validating it, waiting for a late
one); `verdict`: NAME.EXT.verdict.json (schema, writing it atomically, reading one back).
The JSON Schemas the project publishes live in `schema/`.
"""

"""Host side of the trust boundary: validation, metrics and scores.

Code here may read hidden answers. It must never import, unpickle or execute anything produced by
student code; it only parses plain files (CSV here) with strict checks.
"""

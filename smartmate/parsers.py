"""The one JSON parser of the API (REST_FRAMEWORK DEFAULT_PARSER_CLASSES), anonymous endpoints
included. DRF's own turns a body nested deeper than the interpreter's recursion limit into an
uncaught RecursionError (a 500); this one answers 400 validation_error for it and for anything
nested deeper than JSON_MAX_DEPTH, which no request of the API needs."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

JSON_MAX_DEPTH = 32


def depth_of(value) -> int:
    """Nesting depth of decoded JSON, without recursion (so any depth can be measured)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {JSON_MAX_DEPTH} levels.") from None
        if depth_of(data) > JSON_MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {JSON_MAX_DEPTH} levels.")
        return data

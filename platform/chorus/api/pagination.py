"""Limit/offset pagination with bounds, so an absurd `?limit=` or `?offset=` is a normal page
rather than a number PostgreSQL cannot hold."""
from rest_framework.pagination import LimitOffsetPagination

MAX_OFFSET = 2**62  # PostgreSQL's OFFSET is a signed 64-bit integer


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 500

    def get_offset(self, request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)

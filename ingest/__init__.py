

# Before any module of ours imports pyarrow: transforms/__init__.py chooses Arrow's allocator.
import transforms  # noqa: E402, F401

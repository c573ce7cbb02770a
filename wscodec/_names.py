"""The public names, written once.

``wscodec.__all__``, both implementation namespaces (``wscodec._impl_py`` and
``wscodec._impl_c``) and the tests derive from these tables; a test fails if an
implementation lacks one of these names or has a public name not listed here.
"""

from __future__ import annotations

__all__ = ["COMPILED_FROM_PURE", "COMPILED_MODULES", "IMPLEMENTED", "INTERNAL", "PUBLIC", "SHARED"]

#: The compiled extension modules, in build order (setup.py builds these; ``bench`` reports which are
#: there). The kernels come first: the others cimport them.
COMPILED_MODULES = ("_kernels_c", "_rules_c", "_mask_c", "_utf8_c", "_deflate_c", "_values_c", "_frames_c", "_echo_c")

#: Compiled modules built from a pure module's own source (its ``.pxd`` makes the classes C types):
#: ``compiled module: pure module``. Every other one is built from its ``.pyx``.
COMPILED_FROM_PURE = {"_rules_c": "_rules", "_values_c": "_values"}

#: The names each implementation defines, with the module that defines it in each:
#: ``name: (pure module, compiled module)``.
IMPLEMENTED: dict[str, tuple[str, str]] = {
    "apply_mask": ("mask_py", "_mask_c"),
    "apply_mask_inplace": ("mask_py", "_mask_c"),
    "Masker": ("mask_py", "_mask_c"),
    "mask_keyfirst": ("mask_py", "_mask_c"),
    "mask_inplace_keyfirst": ("mask_py", "_mask_c"),
    "validate_utf8": ("utf8_py", "_utf8_c"),
    "Utf8Validator": ("utf8_py", "_utf8_c"),
    "Frame": ("_values", "_values_c"),
    "FrameHeader": ("_values", "_values_c"),
    "parse_header": ("frames_py", "_frames_c"),
    "encode_header": ("frames_py", "_frames_c"),
    "encode_frame": ("frames_py", "_frames_c"),
    "FrameDecoder": ("frames_py", "_frames_c"),
    "DEFAULT_MAX_FRAME_SIZE": ("frames_py", "_frames_c"),
    "Message": ("_values", "_values_c"),
    "MessageDecoder": ("messages_py", "_frames_c"),
    "decode_text": ("messages_py", "_frames_c"),
    "encode_message": ("messages_py", "_frames_c"),
    "DEFAULT_MAX_MESSAGE_SIZE": ("messages_py", "_frames_c"),
    "PerMessageDeflate": ("deflate_py", "_deflate_c"),
}

#: Implementation names that are not public API: the key-first masking entry points the shims call.
INTERNAL = frozenset({"mask_keyfirst", "mask_inplace_keyfirst"})

#: Public names defined once in plain Python and shared by both implementations.
SHARED = (
    "Opcode",
    "CloseCode",
    "RSV1",
    "RSV2",
    "RSV3",
    "ProtocolError",
    "parse_close",
    "encode_close",
    "generate_key",
    "accept_key",
    "validate_key",
    "DeflateParams",
    "negotiate_deflate",
    "deflate_offer",
    "accept_deflate_response",
)

#: ``wscodec.__all__``.
PUBLIC = ("__version__", "implementation", *(name for name in IMPLEMENTED if name not in INTERNAL), *SHARED)

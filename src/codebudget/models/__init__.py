"""Models: named presets, their verified weights, and what a token costs in FLOPs.

`codebudget.models.fetch` is the module that downloads weights (`fetch.fetch(preset)`); its
function is deliberately not re-exported here, so the module name is never shadowed.
"""

from codebudget.models.fetch import cached_path, locate, model_cache_dir, resolve_model
from codebudget.models.flops import (forward_flops_per_token, generation_flops, non_embedding_params, prefill_flops,
                                     total_params)
from codebudget.models.presets import (DEFAULT_MODEL, Architecture, ModelPreset, PyPISource, WheelMember,
                                       all_presets, cpu_ladder, get_preset, preset_names)

__all__ = [
    "DEFAULT_MODEL", "Architecture", "ModelPreset", "PyPISource", "WheelMember", "all_presets", "cached_path",
    "cpu_ladder", "forward_flops_per_token", "generation_flops", "get_preset", "locate", "model_cache_dir",
    "non_embedding_params", "prefill_flops", "preset_names", "resolve_model", "total_params",
]

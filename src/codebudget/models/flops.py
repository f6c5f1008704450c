"""Inference FLOPs of a decoder-only transformer, counted from its architecture.

What is counted (Kaplan et al. 2020, Table 1; Hoffmann et al. 2022, Appendix F):

- Only matrix multiplications. One multiply-add is 2 FLOPs, so `x @ W` with W of shape
  (m, n) costs 2·m·n FLOPs per token. Embedding lookups are free. Norms, activations,
  softmax, rotary embeddings, biases and residual adds are ignored (well under 1%).
- Projections, per layer and per token, from the real matrix shapes (not 12·d²):
  q: d_model × (n_heads·head_dim), k and v: d_model × (n_kv_heads·head_dim) each (so
  grouped-query attention makes k and v cheaper), o: (n_heads·head_dim) × d_model, MLP:
  3·d_model·d_ff for a gated MLP (SwiGLU/GeGLU: gate, up, down) or 2·d_model·d_ff for a
  plain one. Their total is the matmul part of N_nonembedding, so this term is 2·N.
- Attention over the context, per layer and per token attending to c positions (itself
  included): scores q·kᵀ and the weighted sum of values, each c·d_attn multiply-adds
  (d_attn = n_heads·head_dim), so 4·d_attn·c FLOPs. This is Hoffmann et al.'s count;
  Kaplan's "2·n_layer·n_ctx·d_attn" has the scores only. Layers with a sliding window w
  attend to min(c, w) positions.
- The LM head: 2·d_model·vocab FLOPs for each position whose logits are computed, whether
  or not the head shares its matrix with the embedding.

So one forward pass of one token with context c costs

    2·N_matmul + 4·d_attn·Σ_layers c_layer + 2·d_model·vocab.

A generation with p prompt tokens and n completion tokens runs the model on p + n − 1
positions (the last generated token is never fed back), position i attending to i + 1
positions. Logits are needed at n positions: the last prompt position and each fed-back
completion token (engines skip them for the other prompt positions). n = 0 still costs the
prefill and one set of logits (the model ran and chose to stop). The sums have closed forms,
computed exactly in integers.

Without an architecture (only a parameter count), a token costs 2·params (Kaplan's C ≈ 2N).
"""

from __future__ import annotations

from codebudget.models.presets import Architecture


def layer_matmul_params(arch: Architecture) -> int:
    """Weights of the matrices in one layer: q, k, v, o and the MLP."""
    q_and_o = 2 * arch.d_model * arch.d_attn
    k_and_v = 2 * arch.d_model * arch.n_kv_heads * arch.head_dim
    mlp = (3 if arch.gated_mlp else 2) * arch.d_model * arch.d_ff
    return q_and_o + k_and_v + mlp


def _layer_small_params(arch: Architecture) -> int:
    """Biases and norm weights of one layer (two norms per layer; LayerNorm also has biases)."""
    kv_width = arch.n_kv_heads * arch.head_dim
    norms = 2 * arch.d_model * (2 if arch.biases else 1)
    if arch.biases:
        mlp_bias = (2 if arch.gated_mlp else 1) * arch.d_ff + arch.d_model
        return norms + arch.d_attn + 2 * kv_width + arch.d_model + mlp_bias
    if arch.qkv_bias:
        return norms + arch.d_attn + 2 * kv_width
    return norms


def non_embedding_params(arch: Architecture) -> int:
    """Parameters outside the embedding and the LM head: layers plus the final norm.

    Gemma 3's extra sandwich norms and q/k norms are not counted (under 0.02%).
    """
    final_norm = arch.d_model * (2 if arch.biases else 1)
    return arch.n_layers * (layer_matmul_params(arch) + _layer_small_params(arch)) + final_norm


def embedding_params(arch: Architecture) -> int:
    return arch.vocab_size * arch.d_model


def total_params(arch: Architecture) -> int:
    """All parameters, the embedding counted once when the LM head shares it."""
    heads = 1 if arch.tied_embeddings else 2
    return non_embedding_params(arch) + heads * embedding_params(arch)


def forward_flops_per_token(arch: Architecture | None, params: int | None, context_len: int) -> float:
    """FLOPs of one forward pass of one token attending to `context_len` positions (itself included).

    `params` is used only when `arch` is None (then a token costs 2·params).
    """
    if context_len < 1:
        raise ValueError(f"context_len must be at least 1, got {context_len}")
    if arch is None:
        return float(2 * _require_params(params))
    return float(_body_flops(arch, context_len, context_len) + _head_flops(arch))


def prefill_flops(arch: Architecture | None, params: int | None, prompt_tokens: int) -> float:
    """FLOPs to read the prompt and compute the logits of the first generated token."""
    return generation_flops(arch, params, prompt_tokens, 0)


def generation_flops(arch: Architecture | None, params: int | None, prompt_tokens: int,
                     completion_tokens: int) -> float:
    """FLOPs of a whole sample: prefill of the prompt, then each completion token fed back."""
    if prompt_tokens < 1 or completion_tokens < 0:
        raise ValueError(f"need prompt_tokens >= 1 and completion_tokens >= 0, "
                         f"got {prompt_tokens} and {completion_tokens}")
    positions = prompt_tokens + max(completion_tokens - 1, 0)
    logits = max(completion_tokens, 1)
    if arch is None:
        return float(2 * _require_params(params) * positions)
    return float(_body_flops(arch, 1, positions) + logits * _head_flops(arch))


def _body_flops(arch: Architecture, first: int, last: int) -> int:
    """Layer FLOPs of the positions whose contexts are first..last (inclusive)."""
    count = last - first + 1
    full_layers = arch.n_layers - arch.sliding_layers
    attended = full_layers * (_sum_min(last, None) - _sum_min(first - 1, None))
    if arch.sliding_layers:
        window = arch.sliding_window
        attended += arch.sliding_layers * (_sum_min(last, window) - _sum_min(first - 1, window))
    return 2 * arch.n_layers * layer_matmul_params(arch) * count + 4 * arch.d_attn * attended


def _head_flops(arch: Architecture) -> int:
    return 2 * arch.d_model * arch.vocab_size


def _sum_min(t: int, window: int | None) -> int:
    """Σ_{c=1..t} min(c, window); the plain triangular number when there is no window."""
    if window is None or t <= window:
        return t * (t + 1) // 2
    return window * (window + 1) // 2 + (t - window) * window


def _require_params(params: int | None) -> int:
    if params is None or params <= 0:
        raise ValueError("need an architecture or a positive parameter count")
    return params

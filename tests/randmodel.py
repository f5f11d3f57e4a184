# randmodel.py OUT DIM FFN LAYERS HEADS VOCAB: a LLaMA Hugging Face folder with random F16
# weights (random sign and low mantissa bits, exponent near 2^-7: finite, full rank), for tests
# that need matrices of a given size; its perplexity means nothing.
import json, os, struct, sys

out = sys.argv[1]
dim, ffn, layers, heads, vocab = (int(a) for a in sys.argv[2:7])
json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": dim,
           "intermediate_size": ffn, "num_attention_heads": heads,
           "num_key_value_heads": heads, "num_hidden_layers": layers, "vocab_size": vocab,
           "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "hidden_act": "silu",
           "tie_word_embeddings": False}, open(out + "/config.json", "w"))
t = [("model.embed_tokens.weight", (vocab, dim)), ("model.norm.weight", (dim,)),
     ("lm_head.weight", (vocab, dim))]
for l in range(layers):
    p = "model.layers.%d." % l
    t += [(p + "self_attn.%s_proj.weight" % k, (dim, dim)) for k in "qkvo"]
    t += [(p + "mlp.gate_proj.weight", (ffn, dim)), (p + "mlp.up_proj.weight", (ffn, dim)),
          (p + "mlp.down_proj.weight", (dim, ffn)), (p + "input_layernorm.weight", (dim,)),
          (p + "post_attention_layernorm.weight", (dim,))]
table = bytes((i & 0x83) | 0x20 for i in range(256))
h, off, blobs = {}, 0, []
for name, shape in t:
    n = 1
    for d in shape:
        n *= d
    b = bytearray(os.urandom(2 * n))
    b[1::2] = bytes(b[1::2]).translate(table)
    h[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [off, off + len(b)]}
    off += len(b)
    blobs.append(b)
hj = json.dumps(h).encode()
hj += b" " * ((-len(hj)) % 8)
with open(out + "/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(hj)) + hj)
    for b in blobs:
        f.write(b)

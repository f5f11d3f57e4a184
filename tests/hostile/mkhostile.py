#!/usr/bin/env python3
"""mkhostile.py: write the hostile model files of tests/hostile/ and their MANIFEST.

Every case is a small file (or a Hugging Face folder: config.json + model.safetensors) that
`rankscope -c 'load ...'` must refuse with exit status 1 and one line on stderr naming the file
and the problem.  The files are committed (they are the regression corpus: fuzzer findings
are added by hand, listed in FOUND); this script documents how each was made and rewrites them:

    python3 tests/hostile/mkhostile.py tests/hostile

MANIFEST (and FOUND, the fuzzers' findings, kept by hand) lines: NAME <TAB> LOAD-ARGUMENTS <TAB> REGEX.  NAME is the file or folder, the
arguments are what follows `load` (with @ standing for the path of NAME), and REGEX (POSIX
extended, case-insensitive) must match the one error line besides the name of the file.
"""
import json
import os
import shutil
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
MANIFEST = []

# The tiny valid model every case starts from: 1 layer, hidden 8, 2 heads of 4, ffn 16,
# vocabulary 16, F32, untied head.
DIM, FFN, VOCAB, HEADS = 8, 16, 16, 2
CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": DIM,
    "intermediate_size": FFN, "num_attention_heads": HEADS, "num_key_value_heads": HEADS,
    "num_hidden_layers": 1, "vocab_size": VOCAB, "max_position_embeddings": 32,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
    "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
}
HF_SHAPES = [
    ("model.embed_tokens.weight", [VOCAB, DIM]),
    ("model.layers.0.self_attn.q_proj.weight", [DIM, DIM]),
    ("model.layers.0.self_attn.k_proj.weight", [DIM, DIM]),
    ("model.layers.0.self_attn.v_proj.weight", [DIM, DIM]),
    ("model.layers.0.self_attn.o_proj.weight", [DIM, DIM]),
    ("model.layers.0.mlp.gate_proj.weight", [FFN, DIM]),
    ("model.layers.0.mlp.up_proj.weight", [FFN, DIM]),
    ("model.layers.0.mlp.down_proj.weight", [DIM, FFN]),
    ("model.layers.0.input_layernorm.weight", [DIM]),
    ("model.layers.0.post_attention_layernorm.weight", [DIM]),
    ("model.norm.weight", [DIM]),
    ("lm_head.weight", [VOCAB, DIM]),
]


def add(name, args, regex):
    MANIFEST.append((name, args, regex))


def write(name, data):
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def nelem(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def st_header(shapes, dtype="F32", size=4):
    """A safetensors header dict for tensors laid out one after the other; and the data size."""
    h, off = {}, 0
    for name, shape in shapes:
        n = nelem(shape) * size
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    return h, off


def st_bytes(header, data_size, raw_header=None, hlen=None, truncate=None):
    hj = raw_header if raw_header is not None else json.dumps(header).encode()
    b = struct.pack("<Q", len(hj) if hlen is None else hlen) + hj + bytes(data_size)
    return b if truncate is None else b[:truncate]


def hf_folder(name, args_regex, config=None, st=None, extra=None):
    """A folder case: config.json (the valid one unless given) and model.safetensors."""
    os.makedirs(os.path.join(OUT, name), exist_ok=True)
    cfg = config if config is not None else json.dumps(CONFIG).encode()
    if cfg is not False:
        write(name + "/config.json", cfg)
    if st is None:
        h, n = st_header(HF_SHAPES)
        st = st_bytes(h, n)
    if st is not False:
        write(name + "/model.safetensors", st)
    for fname, data in (extra or {}).items():
        write(name + "/" + fname, data)
    add(name, "@", args_regex)


# ------------------------------------------------------------------ safetensors folders
H, NDATA = st_header(HF_SHAPES)
good_st = st_bytes(H, NDATA)
hf_folder("st-trunc-length", "header|short|truncat|too small|bytes", st=good_st[:5])
hf_folder("st-trunc-header", "header|truncat|short|bytes|exceed|beyond",
          st=good_st[:8 + 40])
hf_folder("st-trunc-data", "offset|data|truncat|beyond|exceed|size|end",
          st=good_st[:len(good_st) - 100])
hf_folder("st-huge-header-length", "header|length|large|size|bytes",
          st=struct.pack("<Q", 1 << 63) + good_st[8:])
hf_folder("st-bad-json", "json|header|parse|invalid|expected|line",
          st=st_bytes(None, 0, raw_header=b'{"model.norm.weight": {"dtype": "F32", '))
hf_folder("st-not-object", "object|header",
          st=st_bytes(None, 0, raw_header=b'[1, 2, 3]'))
hf_folder("st-deep-nesting", "json|depth|nest|header|deep|recursion|too",
          st=st_bytes(None, 0, raw_header=b'{"a":' + b'[' * 20000 + b']' * 20000 + b'}'))
h = json.loads(json.dumps(H)); h["model.norm.weight"]["dtype"] = "F128"
hf_folder("st-unknown-dtype", "dtype|F128|type", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H)); h["model.layers.0.self_attn.q_proj.weight"]["shape"] = [1 << 62, 1 << 62]
hf_folder("st-overflow-shape", "shape|overflow|size|large|bytes|offsets", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H)); h["model.layers.0.self_attn.q_proj.weight"]["shape"] = [DIM, DIM + 1]
hf_folder("st-shape-vs-offsets", "shape|offsets|bytes|size", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H)); o = h["model.norm.weight"]["data_offsets"]; o.reverse()
hf_folder("st-offsets-reversed", "offset", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H)); h["lm_head.weight"]["data_offsets"] = [NDATA, NDATA + VOCAB * DIM * 4]
hf_folder("st-offsets-outside", "offset|beyond|outside|exceed|data|size", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H))
h["model.layers.0.self_attn.k_proj.weight"]["data_offsets"] = list(
    h["model.layers.0.self_attn.q_proj.weight"]["data_offsets"])
hf_folder("st-offsets-overlap", "overlap|offset|share|hole|gap|cover", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H)); h["model.norm.weight"]["shape"] = [-8]
hf_folder("st-negative-shape", "shape|negative|dimension", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H)); h["model.norm.weight"]["shape"] = [1] * 9 + [DIM]
hf_folder("st-too-many-dims", "dim|shape|rank", st=st_bytes(h, NDATA))
h = json.loads(json.dumps(H)); h["model.norm.weight"]["data_offsets"] = [0.5, 32]
hf_folder("st-fractional-offset", "offset|integer|number", st=st_bytes(h, NDATA))
raw = json.dumps(H).encode()
dup = raw[:-1] + b', "model.norm.weight": ' + json.dumps(H["model.norm.weight"]).encode() + b'}'
hf_folder("st-duplicate-name", "duplicate|twice|model.norm.weight", st=st_bytes(None, NDATA, raw_header=dup))
h = json.loads(json.dumps(H)); h["__metadata__"] = {"format": 7}
hf_folder("st-metadata-not-string", "metadata|string", st=st_bytes(h, NDATA))
shapes = [s for s in HF_SHAPES if s[0] != "model.layers.0.self_attn.q_proj.weight"]
h, n = st_header(shapes)
hf_folder("st-missing-tensor", "q_proj|missing", st=st_bytes(h, n))
shapes = [(nm, [DIM, DIM // 2] if nm.endswith("q_proj.weight") else sh) for nm, sh in HF_SHAPES]
h, n = st_header(shapes)
hf_folder("st-wrong-shape", "q_proj|shape|expected", st=st_bytes(h, n))
h = json.loads(json.dumps(H)); h["model.norm.weight"]["shape"] = "8"
hf_folder("st-shape-not-array", "shape", st=st_bytes(h, NDATA))

# ------------------------------------------------------------------ config.json
def cfg(**kw):
    c = dict(CONFIG)
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c).encode()


hf_folder("cfg-bad-json", "config.json.*(line|json|expected|invalid|end)",
          config=b'{"hidden_size": 8,,}')
hf_folder("cfg-not-object", "config.json.*(object|expected)", config=b'"llama"')
hf_folder("cfg-deep-nesting", "config.json", config=b'{"a":' + b'{"a":' * 5000 + b'1' + b'}' * 5001)
hf_folder("cfg-zero-layers", "config.json.*num_hidden_layers", config=cfg(num_hidden_layers=0))
hf_folder("cfg-huge-layers", "config.json.*num_hidden_layers", config=cfg(num_hidden_layers=1 << 40))
hf_folder("cfg-heads-not-dividing", "config.json.*(head|divis|multiple)",
          config=cfg(num_attention_heads=3, num_key_value_heads=3))
hf_folder("cfg-kv-heads-over-heads", "config.json.*(key_value|kv|head)",
          config=cfg(num_key_value_heads=4))
hf_folder("cfg-negative-vocab", "config.json.*vocab_size", config=cfg(vocab_size=-16))
hf_folder("cfg-string-hidden-size", "config.json.*hidden_size", config=cfg(hidden_size="8"))
hf_folder("cfg-unknown-architecture", "config.json.*(architecture|BertModel|supported)",
          config=cfg(architectures=["BertModel"], model_type="bert"))
hf_folder("cfg-missing-field", "config.json.*intermediate_size", config=cfg(intermediate_size=None))
hf_folder("cfg-nan-eps", "config.json.*(rms_norm_eps|number|nan)", config=cfg(rms_norm_eps="NaN"))
hf_folder("cfg-vocab-vs-embedding", "(embed|shape|vocab)", config=cfg(vocab_size=VOCAB * 2))
hf_folder("cfg-missing", "config.json", config=False)

# A tokenizer with more tokens than the model's vocabulary.
tok_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for i in range(3, VOCAB + 8):
    tok_vocab["\u2581" + chr(ord("a") + i % 26) * (1 + i // 26)] = i
tokjson = {
    "version": "1.0", "added_tokens": [
        {"id": 0, "content": "<unk>", "special": True},
        {"id": 1, "content": "<s>", "special": True},
        {"id": 2, "content": "</s>", "special": True}],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None,
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": False,
              "vocab": tok_vocab, "merges": []},
}
hf_folder("tok-vocab-over-model", "tokenizer has 24 tokens.*vocabulary is 16",
          extra={"tokenizer.json": json.dumps(tokjson).encode()})

# PyTorch pickles are never opened.
pickle = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s." + bytes(32)
hf_folder("pickle-folder", "pickle", st=False, extra={"pytorch_model.bin": pickle})
write("pickle.bin", pickle)
add("pickle.bin", "@", "pickle")
write("pickle-zip.pt", b"PK\x03\x04" + bytes(60))
add("pickle-zip.pt", "@", "pickle")


# ------------------------------------------------------------------ GGUF files
def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


GT = {"u32": 4, "i32": 5, "f32": 6, "str": 8, "arr": 9, "u64": 10}


def kv(key, typ, val):
    out = gstr(key) + struct.pack("<I", GT[typ])
    if typ == "u32":
        out += struct.pack("<I", val)
    elif typ == "i32":
        out += struct.pack("<i", val)
    elif typ == "f32":
        out += struct.pack("<f", val)
    elif typ == "u64":
        out += struct.pack("<Q", val)
    elif typ == "str":
        out += gstr(val)
    elif typ == "arr":
        et, items = val
        out += struct.pack("<IQ", GT[et], len(items))
        for it in items:
            if et == "str":
                out += gstr(it)
            elif et == "f32":
                out += struct.pack("<f", it)
            elif et == "i32":
                out += struct.pack("<i", it)
    return out


GG_TOKENS = ["<unk>", "<s>", "</s>"] + ["\u2581" + chr(ord("a") + i) for i in range(VOCAB - 3)]
GG_KVS = [
    ("general.architecture", "str", "llama"),
    ("llama.block_count", "u32", 1),
    ("llama.embedding_length", "u32", DIM),
    ("llama.feed_forward_length", "u32", FFN),
    ("llama.attention.head_count", "u32", HEADS),
    ("llama.attention.head_count_kv", "u32", HEADS),
    ("llama.context_length", "u32", 32),
    ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
    ("tokenizer.ggml.model", "str", "llama"),
    ("tokenizer.ggml.tokens", "arr", ("str", GG_TOKENS)),
    ("tokenizer.ggml.scores", "arr", ("f32", [0.0] * len(GG_TOKENS))),
    ("tokenizer.ggml.token_type", "arr", ("i32", [2, 3, 3] + [1] * (len(GG_TOKENS) - 3))),
]
# name, ne (innermost first), ggml type (0 = F32)
GG_TENSORS = [
    ("token_embd.weight", [DIM, VOCAB], 0), ("output_norm.weight", [DIM], 0),
    ("output.weight", [DIM, VOCAB], 0), ("blk.0.attn_norm.weight", [DIM], 0),
    ("blk.0.attn_q.weight", [DIM, DIM], 0), ("blk.0.attn_k.weight", [DIM, DIM], 0),
    ("blk.0.attn_v.weight", [DIM, DIM], 0), ("blk.0.attn_output.weight", [DIM, DIM], 0),
    ("blk.0.ffn_norm.weight", [DIM], 0), ("blk.0.ffn_gate.weight", [DIM, FFN], 0),
    ("blk.0.ffn_up.weight", [DIM, FFN], 0), ("blk.0.ffn_down.weight", [FFN, DIM], 0),
]


def gguf(kvs=None, tensors=None, version=3, n_kv=None, n_tensors=None, align=32,
         offsets=None, raw_kv=b"", truncate=None, pad_data=0):
    kvs = GG_KVS if kvs is None else kvs
    tensors = GG_TENSORS if tensors is None else tensors
    body = b"".join(kv(*k) for k in kvs) + raw_kv
    infos, off, offs = b"", 0, []
    for i, (name, ne, typ) in enumerate(tensors):
        o = off if offsets is None or offsets[i] is None else offsets[i]
        offs.append(o)
        infos += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        infos += struct.pack("<IQ", typ, o)
        n = nelem(ne) * 4 if typ == 0 and nelem(ne) < (1 << 20) else 0
        off += (n + align - 1) // align * align
    head = b"GGUF" + struct.pack("<IQQ", version,
                                 len(tensors) if n_tensors is None else n_tensors,
                                 len(kvs) + (1 if raw_kv else 0) if n_kv is None else n_kv)
    b = head + body + infos
    b += bytes((-len(b)) % align)
    b += bytes(off + pad_data)
    return b if truncate is None else b[:truncate]


def gcase(name, regex, data):
    write(name, data)
    add(name, "@", regex)


good = gguf()
gcase("gguf-trunc-magic.gguf", "GGUF|not a|format|truncat|short", b"GGU")
gcase("gguf-trunc-header.gguf", "truncat|header|short|end|bytes", good[:10])
gcase("gguf-bad-version.gguf", "version", gguf(version=99))
gcase("gguf-big-endian.gguf", "version|endian", gguf(version=0x03000000))
gcase("gguf-huge-kv-count.gguf", "kv|key|count|truncat|large|end", gguf(n_kv=1 << 60))
gcase("gguf-huge-tensor-count.gguf", "tensor|count|truncat|large|end", gguf(n_tensors=1 << 60))
gcase("gguf-huge-string.gguf", "string|length|truncat|large|end|key",
      gguf(kvs=[], raw_kv=struct.pack("<Q", 1 << 63) + b"general.architecture"))
gcase("gguf-trunc-kv.gguf", "truncat|end|key|value|bytes|short", good[:24 + 40])
gcase("gguf-bad-kv-type.gguf", "type",
      gguf(kvs=GG_KVS[:1], raw_kv=gstr("x.y") + struct.pack("<I", 99) + bytes(8)))
gcase("gguf-huge-array.gguf", "array|count|truncat|large|end",
      gguf(kvs=GG_KVS[:1], raw_kv=gstr("x.arr") + struct.pack("<IIQ", 9, 4, 1 << 62)))
nested = gstr("x.nested") + struct.pack("<I", 9)
for _ in range(64):
    nested += struct.pack("<IQ", 9, 1)
nested += struct.pack("<IQ", 4, 1) + struct.pack("<I", 7)
gcase("gguf-nested-arrays.gguf", "array|nest|type|depth", gguf(kvs=GG_KVS[:1], raw_kv=nested))
gcase("gguf-duplicate-key.gguf", "duplicate|twice|llama.block_count",
      gguf(kvs=GG_KVS + [("llama.block_count", "u32", 1)]))
gcase("gguf-trunc-tensor-info.gguf", "truncat|tensor|end|short|bytes", good[:len(gguf(tensors=[])) + 50])
gcase("gguf-too-many-dims.gguf", "dim",
      gguf(tensors=GG_TENSORS[:-1] + [("blk.0.ffn_down.weight", [1] * 9, 0)]))
gcase("gguf-unknown-type.gguf", "type",
      gguf(tensors=GG_TENSORS[:-1] + [("blk.0.ffn_down.weight", [FFN, DIM], 99)]))
gcase("gguf-overflow-shape.gguf", "overflow|shape|size|large|elements|bytes|beyond|exceed",
      gguf(tensors=GG_TENSORS[:-1] + [("blk.0.ffn_down.weight", [1 << 40, 1 << 40], 0)]))
gcase("gguf-offset-outside.gguf", "offset|beyond|outside|exceed|end|data",
      gguf(offsets=[None] * 11 + [1 << 40]))
gcase("gguf-offset-misaligned.gguf", "align|offset",
      gguf(offsets=[None] * 11 + [3]))
gcase("gguf-bad-alignment.gguf", "align",
      gguf(kvs=GG_KVS + [("general.alignment", "u32", 3)]))
gcase("gguf-overlap.gguf", "overlap|offset",
      gguf(offsets=[None] * 11 + [0]))
gcase("gguf-block-row.gguf", "block|multiple|row|Q8_0",
      gguf(tensors=GG_TENSORS[:-1] + [("blk.0.ffn_down.weight", [33, DIM], 8)]))
gcase("gguf-duplicate-tensor.gguf", "duplicate|twice|blk.0.attn_q.weight",
      gguf(tensors=GG_TENSORS + [("blk.0.attn_q.weight", [DIM, DIM], 0)]))
gcase("gguf-zero-dim.gguf", "dim|shape|zero|empty|ffn_down",
      gguf(tensors=GG_TENSORS[:-1] + [("blk.0.ffn_down.weight", [0, DIM], 0)]))
gcase("gguf-no-architecture.gguf", "general.architecture", gguf(kvs=GG_KVS[1:]))
gcase("gguf-vocab-over-model.gguf", "tokenizer has 24 tokens.*vocabulary is 16",
      gguf(kvs=GG_KVS[:9] + [
          ("tokenizer.ggml.tokens", "arr", ("str", GG_TOKENS + ["\u2581x%d" % i for i in range(8)])),
          ("tokenizer.ggml.scores", "arr", ("f32", [0.0] * (VOCAB + 8))),
          ("tokenizer.ggml.token_type", "arr", ("i32", [2, 3, 3] + [1] * (VOCAB + 5)))]))
gcase("gguf-wrong-key-type.gguf", "llama.block_count|type",
      gguf(kvs=[GG_KVS[0], ("llama.block_count", "str", "one")] + GG_KVS[2:]))
gcase("gguf-missing-tensor.gguf", "blk.0.attn_q.weight|missing",
      gguf(tensors=[t for t in GG_TENSORS if t[0] != "blk.0.attn_q.weight"]))

# ------------------------------------------------------------------ llama2.c checkpoints
def l2c(dim, hidden, layers, heads, kv_heads, vocab, seq):
    return struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq)


def l2c_size(dim, hidden, layers, heads, kv_heads, vocab, seq):
    hd = dim // heads
    n = vocab * dim + layers * (2 * dim + dim * heads * hd * 2 + 2 * dim * kv_heads * hd +
                                3 * dim * hidden) + dim + seq * hd  # + freq_cis_real/imag
    return n * 4


hdr = (DIM, FFN, 1, HEADS, HEADS, VOCAB, 32)
full = l2c(*hdr) + bytes(l2c_size(*hdr))
gcase("l2c-trunc-weights.bin", "truncat|size|short|bytes|expected|end", full[:len(full) // 2])
gcase("l2c-huge-dims.bin", "size|bytes|truncat|short|large|expected",
      l2c(1 << 20, 1 << 20, 4096, 1 << 10, 1 << 10, 1 << 24, 1 << 24) + bytes(64))
gcase("l2c-heads-not-dividing.bin", "head|divis|multiple|dim",
      l2c(10, FFN, 1, 3, 3, VOCAB, 32) + bytes(l2c_size(9, FFN, 1, 3, 3, VOCAB, 32)))
gcase("l2c-header-only.bin", "truncat|size|short|bytes|expected|not a", l2c(*hdr))

# ------------------------------------------------------------------ tokenizer files
def tcase(name, regex, data):
    write(name, data)
    add(name, "--vocab-only @", regex)


tcase("tok-json-bad.json", "json|line|expected|invalid|end", b'{"model": {"vocab": {"a": 0}')
tcase("tok-json-deep.json", "json|depth|nest|line|too", b'{"model":' + b'[' * 30000 + b']' * 30000 + b'}')
tcase("tok-json-vocab-array.json", "vocab", json.dumps(
    {"model": {"type": "BPE", "vocab": ["a", "b"], "merges": []}}).encode())
tcase("tok-json-id-out-of-range.json", "id|vocab|range", json.dumps(
    {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1 << 40}, "merges": []}}).encode())
tcase("tok-json-added-bad-id.json", "added_tokens.*id", json.dumps(
    {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
     "added_tokens": [{"id": -1, "content": "<s>", "special": True}]}).encode())
tcase("tok-json-bad-merge.json", "merge", json.dumps(
    {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["ab"]}}).encode())
tcase("tok-json-wordpiece.json", "WordPiece|type|supported", json.dumps(
    {"model": {"type": "WordPiece", "vocab": {"a": 0}, "merges": []}}).encode())
tcase("tok-json-empty-vocab.json", "empty|vocab", json.dumps(
    {"model": {"type": "BPE", "vocab": {}, "merges": []}}).encode())


def pb_varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, payload):
    return pb_varint(num << 3 | 2) + pb_varint(len(payload)) + payload


def sp_piece(text, score=0.0, typ=1):
    return pb_field(1, pb_field(1, text.encode()) + b"\x15" + struct.pack("<f", score) +
                    b"\x18" + pb_varint(typ))


sp_pieces = sp_piece("<unk>", 0, 2) + sp_piece("<s>", 0, 3) + sp_piece("</s>", 0, 3) + \
    b"".join(sp_piece("\u2581" + c, -i) for i, c in enumerate("abcdefgh"))
sp_trainer = pb_field(2, b"\x18\x02")   # trainer_spec { model_type: BPE }
tcase("tok-model-empty.model", "piece|empty|protobuf|SentencePiece", b"")
tcase("tok-model-truncated.model", "protobuf|truncat|malformed",
      (sp_pieces + sp_trainer)[:len(sp_pieces) // 2 + 3])
tcase("tok-model-huge-length.model", "protobuf|length|malformed|truncat",
      sp_pieces[:20] + b"\x0a" + pb_varint(1 << 62) + b"abc")
tcase("tok-model-unigram.model", "model_type|BPE|supported",
      sp_pieces + pb_field(2, b"\x18\x01"))
tcase("tok-model-overlong-varint.model", "protobuf|malformed|varint",
      b"\x0a" + b"\xff" * 11 + b"\x01")

tok512 = struct.pack("<i", 8) + b"".join(struct.pack("<fi", -float(i), 2) + b"%02d" % i for i in range(20))
tcase("tok-bin-truncated.bin", "truncat|short|end|bytes|token", tok512[:len(tok512) - 3])
tcase("tok-bin-huge-length.bin", "length|truncat|token|large|bytes",
      struct.pack("<i", 8) + struct.pack("<fi", 0.0, 0x7FFFFFFF) + b"abc")
tcase("tok-bin-negative-length.bin", "length|token|negative|bytes",
      struct.pack("<i", 8) + struct.pack("<fi", 0.0, -5) + b"abc")
tcase("tok-bin-empty.bin", "empty|truncat|short|token|bytes|header", b"")

if os.environ.get("MKHOSTILE_VALID"):
    # the valid bases, to check that each case differs from a loadable file by its flaw
    hf_folder("valid-hf", "", extra={"tokenizer.json": json.dumps(dict(tokjson, model=dict(
        tokjson["model"], vocab={k: v for k, v in tok_vocab.items() if v < VOCAB}))).encode()})
    write("valid.gguf", good)
    write("valid-l2c.bin", full)
    write("tok-valid.model", sp_pieces + sp_trainer)
    write("tok-valid.bin", tok512)
    MANIFEST.pop()

with open(os.path.join(OUT, "MANIFEST"), "w") as f:
    f.write("# generated by mkhostile.py; fuzzer findings are listed in FOUND\n"
            "# NAME<TAB>LOAD ARGUMENTS (@ = the path of NAME)<TAB>REGEX the error line matches\n")
    for name, args, regex in MANIFEST:
        f.write("%s\t%s\t%s\n" % (name, args, regex))
print("%d cases" % len(MANIFEST))

"""halops rag: retrieval over runbooks and skill docs (see docs/rag.md).

Modules, one job each:
    config      RagSettings, the `[rag]` section
    loaders     find files, decode them, convert RST/HTML/skill folders to Markdown-ish text
    chunking    cut text along headings with a size limit and overlap
    embedder    the embedding backends (sentence-transformers, onnx, onnx-int8)
    onnx_export one-time ONNX export, optimisation, int8 quantisation and verification
    store       the Chroma collection, guarded by the embedding id that built it
    ingest      incremental ingest (unchanged chunks are not embedded again)
    retriever   `Retriever.retrieve(query, k)`, the API the agent uses
    evaluate    recall@1, recall@k, MRR on a labelled set
    cli         `halops rag ingest|query|eval|prepare|info`

Nothing heavy (chromadb, onnxruntime, torch) is imported by `import rag` or `rag.cli`.
"""

"""Model servers: the OpenAI-compatible HTTP client and the embedded llama.cpp server."""

#pragma once
// The machine-readable contracts (protocol/openapi.yaml, protocol/asyncapi.yaml),
// embedded at build time as JSON and served at /api/v1/openapi.json and
// /api/v1/asyncapi.json: a deployed binary needs no file for them.
#include "server/http_api.hpp"

#include <string_view>

namespace parley {

// One document: its JSON and a strong ETag over it.
struct api_doc {
  std::string_view json;
  std::string_view etag;
};

// Made by protocol/embed_specs.py (the build's api_docs_json.cpp).
extern const api_doc openapi_doc;
extern const api_doc asyncapi_doc;

// The document for GET or HEAD, 304 when If-None-Match names its ETag; no token needed.
http_response api_doc_response(const api_doc& doc, const http_request& req);

}  // namespace parley

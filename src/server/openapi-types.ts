/**
 * The shape of the OpenAPI 3.1 document the server publishes (openapi.ts builds it, docs-page.ts
 * renders it).
 */
import type { Scope } from "./auth.js";

export type JsonSchema = Record<string, unknown>;

export interface OpenApiReference {
  $ref: string;
}

export interface OpenApiMediaType {
  schema: JsonSchema | OpenApiReference;
}

export interface OpenApiParameter {
  name: string;
  in: "path" | "query";
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface OpenApiRequestBody {
  required: boolean;
  description?: string;
  content: Record<string, OpenApiMediaType>;
}

export interface OpenApiResponse {
  description: string;
  content?: Record<string, OpenApiMediaType>;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  /** The scope a token needs, or "public" (the same fact as `security`, easier to read). */
  "x-scope": Scope | "public";
  security: Array<Record<string, string[]>>;
  parameters?: OpenApiParameter[];
  requestBody?: OpenApiRequestBody;
  responses: Record<string, OpenApiResponse | OpenApiReference>;
}

export type OpenApiMethod = "get" | "post" | "put" | "patch" | "delete";
export type OpenApiPathItem = Partial<Record<OpenApiMethod, OpenApiOperation>>;

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  tags: Array<{ name: string; description?: string }>;
  paths: Record<string, OpenApiPathItem>;
  components: {
    securitySchemes: Record<string, Record<string, string>>;
    schemas: Record<string, JsonSchema>;
    responses: Record<string, OpenApiResponse>;
  };
}

/**
 * Request and response schemas of an endpoint's extras: its transformation
 * (`/transformation`, `/transformation/simulate`) and how Hookline authenticates to it
 * (`/oauth`, `/mtls`, `/ca`). Only typebox and the API's formats, so the dashboard can import
 * these types without the server's runtime.
 */
import Type from 'typebox';
import { TRANSFORMATION_MAX_BYTES } from '../core/formats.ts';

// ---- transformation ----------------------------------------------------------------------
const Code = Type.String({
  maxLength: TRANSFORMATION_MAX_BYTES,
  description: 'JavaScript defining `function handler(webhook) { ...; return webhook }`',
});

export const EndpointTransformationOut = Type.Object({
  code: Type.Union([Type.String(), Type.Null()]),
  enabled: Type.Boolean(),
  updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export const EndpointTransformationPatch = Type.Object(
  {
    code: Type.Optional(Type.Union([Code, Type.Null()])),
    enabled: Type.Optional(Type.Boolean()),
    variables: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
  },
  { additionalProperties: false },
);
export const TransformationSimulateIn = Type.Object(
  {
    code: Type.Optional(Code),
    eventType: Type.String({ minLength: 1, maxLength: 256 }),
    payload: Type.Record(Type.String(), Type.Unknown()),
    channels: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
  },
  { additionalProperties: false },
);
export const TransformationSimulateOut = Type.Object({
  method: Type.String(),
  url: Type.String(),
  /** The body that would be sent (JSON text), as in Svix. */
  payload: Type.String(),
  headers: Type.Record(Type.String(), Type.String()),
  cancel: Type.Boolean(),
});

// ---- oauth, mtls, ca ---------------------------------------------------------------------
/** A PEM text: big enough for a certificate chain, small enough to keep in a row. */
const Pem = Type.String({ minLength: 1, maxLength: 65_536 });

const AuthMethod = Type.Union([Type.Literal('clientSecretBasic'), Type.Literal('clientSecretPost')], {
  description: 'How the client authenticates to the token URL (default: HTTP Basic)',
});
export const EndpointOauthConfigIn = Type.Object(
  {
    tokenUrl: Type.String({ minLength: 1, maxLength: 2048 }),
    clientId: Type.String({ minLength: 1, maxLength: 1024 }),
    clientSecret: Type.String({ minLength: 1, maxLength: 4096 }),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 64 })),
    authMethod: Type.Optional(AuthMethod),
    grantType: Type.Optional(Type.Literal('clientCredentials')),
    extraParams: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 4096 }), {
        maxProperties: 32,
      }),
    ),
  },
  { additionalProperties: false },
);
export const EndpointOauthConfigOut = Type.Object(
  {
    tokenUrl: Type.String(),
    clientId: Type.String(),
    scopes: Type.Array(Type.String()),
    authMethod: AuthMethod,
    grantType: Type.Literal('clientCredentials'),
    extraParams: Type.Record(Type.String(), Type.String()),
  },
  { description: 'The client secret is never answered.' },
);
export const EndpointMtlsConfigIn = Type.Object(
  {
    certificate: Type.String({ ...Pem, description: 'Client certificate (PEM), optionally with its chain' }),
    key: Type.String({ ...Pem, description: 'Its private key (PEM, unencrypted)' }),
  },
  { additionalProperties: false },
);
const CertificateInfo = {
  certificate: Type.String({ description: 'PEM' }),
  subject: Type.String(),
  issuer: Type.String(),
  validTo: Type.String({ format: 'date-time' }),
  fingerprint256: Type.String(),
};
export const EndpointMtlsConfigOut = Type.Object(CertificateInfo, {
  description: 'The private key is never answered.',
});
export const EndpointCaConfigIn = Type.Object(
  { certificate: Type.String({ ...Pem, description: 'One or more CA certificates (PEM)' }) },
  { additionalProperties: false },
);
export const EndpointCaConfigOut = Type.Object(CertificateInfo);

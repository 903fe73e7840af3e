/**
 * @module protocols/cbor-codec
 * @smithy/core's CBOR codec (the SDKs' own), loaded on first use: importing it costs 50-130 ms of module loading,
 * which Cellar's startup (under 300 ms) does not pay for a protocol most clients never speak. Its CommonJS build is
 * what Node resolves for it, so it can be required synchronously from the first RPC v2 CBOR request.
 */
import { createRequire } from 'node:module';

export type CborCodec = typeof import('@smithy/core/cbor');

let codec: CborCodec | undefined;

export function cborCodec(): CborCodec {
  return (codec ??= createRequire(import.meta.url)('@smithy/core/cbor') as CborCodec);
}

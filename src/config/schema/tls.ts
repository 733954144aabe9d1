import { z } from 'zod';

/** TLS settings shared by the FluxionDB and MQTT connections; files are read at load time. */
export function tlsSection(peer: string, schemes: string) {
  return z
    .strictObject({
      ca_file: z.string().min(1).optional().meta({
        description: `PEM file of the CA bundle to trust for the ${peer} (e.g. a private CA). Absent: the system's trusted CAs. Relative paths are relative to the config file.`,
      }),
      cert_file: z.string().min(1).optional().meta({
        description: 'PEM client certificate, for mutual TLS (with key_file).',
      }),
      key_file: z.string().min(1).optional().meta({
        description: 'PEM private key of the client certificate (with cert_file). Keep it readable by the service user only.',
      }),
      reject_unauthorized: z.boolean().default(true).meta({
        description: `Verify the certificate of the ${peer}. Turn off only for tests: without it, anyone on the path can read and change the traffic.`,
      }),
    })
    .optional()
    .meta({ description: `TLS settings for the ${peer}, used with ${schemes} URLs.` });
}

/** Configuration that cannot work, refused before anything touches a cloud. Its message names no secret. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

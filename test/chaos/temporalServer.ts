import path from 'node:path';
import { startDevServer, type DevServer } from '../../src/temporal/devServer.js';
import { freePort } from '../../src/temporal/ports.js';

/**
 * The suite's own Temporal dev server, on a fixed port with an on-disk database, so that it can
 * be stopped and started again with every workflow where it was (a Temporal service crash).
 */
export class RestartableTemporal {
  private server: DevServer | undefined;
  restarts = 0;

  private constructor(
    readonly port: number,
    readonly dbFilename: string,
    private readonly logDir: string,
  ) {}

  static async start(dir: string): Promise<RestartableTemporal> {
    const temporal = new RestartableTemporal(await freePort(), path.join(dir, 'temporal.db'), dir);
    await temporal.up();
    return temporal;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Stops the service (SIGTERM, then SIGKILL) and starts it again on the same port and database. */
  async restart({ downMs = 2_000 }: { downMs?: number } = {}): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    this.restarts += 1;
    await this.up();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }

  private async up(): Promise<void> {
    this.server = await startDevServer({
      port: this.port,
      dbFilename: this.dbFilename,
      logFile: path.join(this.logDir, `temporal-${this.restarts}.log`),
      startTimeoutMs: 90_000,
    });
  }
}


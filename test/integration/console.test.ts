/**
 * The web console (/_cellar/console) in a real browser: Debian's chromium, headless, driven by playwright-core.
 * Given a Cellar holding a DynamoDB table with items, a secret and a PostgreSQL DB instance (a real engine with a
 * client connected), the console lists every resource by account and region, browses the table's items by scan and
 * by query, shows a secret's value only when asked, shows the instance with its events and graphs of its AWS/RDS
 * metrics (once CloudWatch has data points for them), and streams the live log;
 * the page logs no console errors and throws nothing. The console's guard refuses foreign origins and non-loopback
 * Host names. Chromium is required: without /usr/bin/chromium this file fails, it does not skip.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DynamoDBClient, CreateTableCommand, PutItemCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient, CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand, type DBInstance } from '@aws-sdk/client-rds';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import pg from 'pg';
import { freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const CHROMIUM = process.env.CELLAR_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'Sup3r-secret!';
const SECRET_VALUE = 'console-secret-value-4711';
const UI_TIMEOUT_MS = 15_000;
/** The samplers publish the engines' metrics this often here (60 s by default), so the graphs have points soon. */
const METRICS_PERIOD_MS = 2_000;

describe('web console in headless Chromium', { timeout: 180_000 }, () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let browser: Browser;
  let db: pg.Client | undefined;
  let instance: DBInstance;
  /** Everything the pages logged as errors, and what they threw: asserted empty after each test. */
  const problems: string[] = [];

  const openConsole = async (hash: string): Promise<Page> => {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${cellar.endpoint}/_cellar/console/${hash}`);
    return page;
  };

  before(async () => {
    // Loud, not a skip: the console's browser test needs the Debian chromium package (scripts/install-system-deps.sh).
    assert.ok(existsSync(CHROMIUM), `Chromium is not installed at ${CHROMIUM}: install the Debian chromium package (scripts/install-system-deps.sh)`);
    dataDir = tempDir();
    cellar = await startCellar({ dataDir, env: { CELLAR_METRICS_PERIOD_MS: String(METRICS_PERIOD_MS) } });
    const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await ddb.send(
      new CreateTableCommand({
        TableName: 'console-orders',
        AttributeDefinitions: [
          { AttributeName: 'customer', AttributeType: 'S' },
          { AttributeName: 'order', AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: 'customer', KeyType: 'HASH' },
          { AttributeName: 'order', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    for (const [customer, order, item] of [
      ['alice', 1, 'teapot'],
      ['alice', 2, 'kettle'],
      ['bob', 1, 'mug'],
    ] as const) {
      await ddb.send(new PutItemCommand({ TableName: 'console-orders', Item: { customer: { S: customer }, order: { N: String(order) }, item: { S: item } } }));
    }
    await new SecretsManagerClient(sdkConfig(cellar.endpoint)).send(new CreateSecretCommand({ Name: 'console/db-password', SecretString: SECRET_VALUE }));
    const rds = new RDSClient(sdkConfig(cellar.endpoint));
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'console-pg',
        Engine: 'postgres',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: 'master',
        MasterUserPassword: PASSWORD,
        Port: await freePort(),
        DBName: 'app',
      }),
    );
    instance = (await waitFor(
      async () => {
        const i = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'console-pg' }))).DBInstances![0]!;
        return i.DBInstanceStatus === 'available' ? i : undefined;
      },
      'console-pg to be available',
      90_000,
      200,
    ))!;
    // A client stays connected, so the instance has connections to report.
    db = new pg.Client({ host: instance.Endpoint!.Address, port: instance.Endpoint!.Port, user: 'master', password: PASSWORD, database: 'app', ssl: { ca: await rdsCaBundle(cellar.endpoint) } });
    db.on('error', () => undefined);
    await db.connect();
    await db.query('CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)');
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  after(async () => {
    await browser?.close();
    await db?.end().catch(() => undefined);
    await cellar?.stop();
    removeDir(dataDir);
  });

  const noProblems = () => assert.deepEqual(problems.splice(0), [], 'the console logged errors or threw');

  it('lists every resource by account and region, with status and endpoint', async () => {
    const page = await openConsole('#resources');
    const scope = page.locator('[data-testid=scope-resources][data-scope="000000000000/us-east-1"]');
    await scope.locator('[data-testid=resource][data-name=console-pg]').waitFor({ timeout: UI_TIMEOUT_MS });
    const pgRow = await scope.locator('[data-testid=resource][data-name=console-pg]').innerText();
    assert.match(pgRow, /available/);
    assert.ok(pgRow.includes(`${instance.Endpoint!.Address}:${instance.Endpoint!.Port}`), pgRow);
    const tableRow = await scope.locator('[data-testid=resource][data-name=console-orders]').innerText();
    assert.match(tableRow, /ACTIVE/);
    assert.match(tableRow, /3 items/);
    assert.ok(tableRow.includes(cellar.endpoint), tableRow);
    assert.match(await scope.locator('[data-testid=resource][data-name="console/db-password"]').innerText(), /active/);
    // The KMS key Secrets Manager made for the secret is listed too.
    assert.ok((await scope.locator('[data-testid=resource]').allInnerTexts()).some((t) => /KMS/.test(t) && /Enabled/.test(t)));
    await page.close();
    noProblems();
  });

  it("browses a table's items by scan and by query", async () => {
    const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    assert.ok((await ddb.send(new ListTablesCommand({}))).TableNames!.includes('console-orders'));
    const page = await openConsole('#dynamodb');
    await page.locator('[data-testid=ddb-table][data-name=console-orders] button').click({ timeout: UI_TIMEOUT_MS });
    const rows = page.locator('[data-testid=ddb-item]');
    await waitFor(async () => ((await rows.count()) === 3 ? true : undefined), 'three items scanned', UI_TIMEOUT_MS);
    const scanned = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.deepEqual(scanned.sort(), ['alice 1 teapot', 'alice 2 kettle', 'bob 1 mug']);
    // A query on the partition key, then on both keys.
    await page.locator('[data-testid=ddb-mode]').selectOption('query');
    await page.locator('[data-testid=ddb-pk]').fill('alice');
    await page.locator('[data-testid=ddb-run]').click();
    await waitFor(async () => ((await page.locator('[data-testid=ddb-count]').innerText()).startsWith('2 items') ? true : undefined), 'two items of alice', UI_TIMEOUT_MS);
    await page.locator('[data-testid=ddb-sk]').fill('2');
    await page.locator('[data-testid=ddb-run]').click();
    await waitFor(async () => ((await page.locator('[data-testid=ddb-count]').innerText()).startsWith('1 item') ? true : undefined), "alice's order 2", UI_TIMEOUT_MS);
    assert.match(await rows.first().innerText(), /kettle/);
    await page.close();
    noProblems();
  });

  it('hides secret values until asked for', async () => {
    const page = await openConsole('#secrets');
    const row = page.locator('[data-testid=secret][data-name="console/db-password"]');
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    assert.ok(!(await page.content()).includes(SECRET_VALUE), 'the value is on the page before it was asked for');
    await row.locator('[data-testid=secret-show]').click();
    assert.equal(await row.locator('[data-testid=secret-value]').innerText({ timeout: UI_TIMEOUT_MS }), SECRET_VALUE);
    await page.close();
    noProblems();
  });

  it('shows an RDS instance with its events', async () => {
    const page = await openConsole('#rds');
    await page.locator('[data-testid=rds-instance][data-name=console-pg]').waitFor({ timeout: UI_TIMEOUT_MS });
    const events = page.locator('[data-testid=rds-events]');
    await events.waitFor({ timeout: UI_TIMEOUT_MS });
    assert.match(await events.innerText(), /DB instance created/i);
    await page.close();
    noProblems();
  });

  it("graphs an RDS instance's CloudWatch metrics", async () => {
    // The samplers publish the instance's metrics every METRICS_PERIOD_MS; first CloudWatch itself has them.
    const cw = new CloudWatchClient(sdkConfig(cellar.endpoint));
    const connections = async () => {
      const end = new Date();
      const r = await cw.send(
        new GetMetricDataCommand({
          StartTime: new Date(end.getTime() - 3600_000),
          EndTime: end,
          MetricDataQueries: [{ Id: 'c', MetricStat: { Metric: { Namespace: 'AWS/RDS', MetricName: 'DatabaseConnections', Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'console-pg' }] }, Period: 60, Stat: 'Maximum' } }],
        }),
      );
      return r.MetricDataResults?.[0]?.Values ?? [];
    };
    const values = (await waitFor(async () => ((await connections()).some((v) => v >= 1) ? connections() : undefined), 'DatabaseConnections data points', 60_000, 500))!;
    assert.ok(values.some((v) => v >= 1), `the connected client is counted: ${JSON.stringify(values)}`);
    const page = await openConsole('#rds');
    await page.locator('[data-testid=rds-instance][data-name=console-pg] button').click({ timeout: UI_TIMEOUT_MS });
    const chart = page.locator('[data-testid=metric-chart][data-metric=DatabaseConnections]');
    await chart.locator('canvas').first().waitFor({ timeout: UI_TIMEOUT_MS });
    assert.ok(Number(await chart.getAttribute('data-points')) > 0);
    assert.match(await chart.innerText(), /last \d/);
    // Another range: the graph is drawn again, from a new GetMetricData, and still has the points.
    await page.locator('[data-testid=metric-range]').selectOption(String(3 * 3600));
    await page.locator('[data-testid=metric-refresh]').click();
    await chart.locator('canvas').first().waitFor({ timeout: UI_TIMEOUT_MS });
    assert.ok(Number(await chart.getAttribute('data-points')) > 0);
    for (const metric of ['CPUUtilization', 'FreeStorageSpace']) {
      assert.ok(Number(await page.locator(`[data-testid=metric-chart][data-metric=${metric}]`).getAttribute('data-points')) > 0, metric);
    }
    await page.close();
    noProblems();
  });

  it('streams the live log', async () => {
    const page = await openConsole('#logs');
    await page.locator('[data-testid=log-state]', { hasText: 'live' }).waitFor({ timeout: UI_TIMEOUT_MS });
    // A request made now shows up in the open view.
    const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await ddb.send(new ListTablesCommand({ Limit: 7 }));
    await page.locator('[data-testid=log-lines] div', { hasText: 'operation=ListTables' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await page.close();
    noProblems();
  });

  it("refuses other sites' pages and non-loopback host names", async () => {
    const api = `${cellar.endpoint}/_cellar/console/api/resources`;
    assert.equal((await fetch(api)).status, 200);
    const foreign = await fetch(api, { headers: { origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.ok(!(await foreign.text()).includes('console-orders'));
    assert.equal((await fetch(api, { headers: { 'sec-fetch-site': 'cross-site' } })).status, 403);
    // DNS rebinding: a foreign name that resolves to 127.0.0.1 still names itself in Host.
    const rebound = await rawGet(cellar.port, '/_cellar/console/api/secrets/value?account=000000000000&region=us-east-1&id=console/db-password', 'evil.example');
    assert.match(rebound, /^HTTP\/1\.1 403/);
    assert.ok(!rebound.includes(SECRET_VALUE));
    assert.equal((await fetch(api, { method: 'POST', body: '{}' })).status, 405);
  });
});

/** A GET with a Host header of our choosing (fetch will not send one). */
async function rawGet(port: number, path: string, host: string): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

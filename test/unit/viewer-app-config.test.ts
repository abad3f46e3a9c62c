// The viewer's app-config.js as the gateway writes it: valid JavaScript, one same-origin DICOMweb data
// source, and a 401 from DICOMweb sends the page to /login with the way back.

import { runInNewContext } from 'node:vm';
import t from 'tap';
import { viewerAppConfig } from '../../src/http/viewer/app-config.js';

function load(): { config: any; assigned: string[]; location: { pathname: string; search: string } } {
  const assigned: string[] = [];
  const location = { pathname: '/viewer/viewer', search: '?StudyInstanceUIDs=1.2.3', assign: (u: string) => { assigned.push(u); } };
  const window: Record<string, unknown> = { location };
  runInNewContext(viewerAppConfig({ basename: '/viewer', dicomweb: '/dicom-web', wadoUri: '/wado' }), { window });
  return { config: window['config'], assigned, location };
}

t.test('one data source: the gateway\'s own DICOMweb, same origin, read-only', async (t) => {
  const { config } = load();
  t.equal(config.routerBasename, '/viewer');
  t.equal(config.dataSources.length, 1);
  t.equal(config.defaultDataSourceName, config.dataSources[0].sourceName);
  t.match(config.dataSources[0].configuration, { qidoRoot: '/dicom-web', wadoRoot: '/dicom-web', wadoUriRoot: '/wado', dicomUploadEnabled: false });
  t.notOk(config.dangerouslyUseDynamicConfig, 'no configUrl from the query string');
  t.notOk(config.customizationUrlPrefixes, 'no customizations from the URL');
  t.notOk(config.oidc, 'no token handling in the viewer');
});

t.test('a DICOMweb 401 goes to /login with next; other errors do not navigate', async (t) => {
  const { config, assigned } = load();
  config.httpErrorHandler({ status: 403 });
  config.httpErrorHandler({ status: 500 });
  config.httpErrorHandler(undefined);
  t.same(assigned, []);
  config.httpErrorHandler({ status: 401 });
  t.same(assigned, [`/login?next=${encodeURIComponent('/viewer/viewer?StudyInstanceUIDs=1.2.3')}`]);
});

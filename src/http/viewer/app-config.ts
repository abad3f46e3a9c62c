// The viewer's app-config.js, written by the gateway: its one data source is the gateway's own
// DICOMweb, same origin, with the session cookie (no token handling in the viewer, no CORS).

/** Where the viewer lives and what it reads; the paths are the gateway's own routes. */
export interface ViewerAppConfigOptions {
  /** The viewer's public path without the trailing slash, e.g. /viewer. */
  readonly basename: string;
  /** The gateway's DICOMweb prefix, e.g. /dicom-web. */
  readonly dicomweb: string;
  /** The gateway's WADO-URI prefix, e.g. /wado. */
  readonly wadoUri: string;
}

/** The JavaScript of app-config.js (OHIF 3.x `window.config`). */
export function viewerAppConfig(o: ViewerAppConfigOptions): string {
  const config = {
    name: 'pacs-gateway',
    routerBasename: o.basename,
    extensions: [],
    modes: [],
    customizationService: {},
    showStudyList: true,
    maxNumberOfWebWorkers: 3,
    showWarningMessageForCrossOrigin: false,
    showCPUFallbackMessage: true,
    showLoadingIndicator: true,
    strictZSpacingForVolumeViewport: true,
    groupEnabledModesFirst: true,
    maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 25 },
    showErrorDetails: 'production',
    defaultDataSourceName: 'pacs-gateway',
    dataSources: [{
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'pacs-gateway',
      configuration: {
        friendlyName: 'PACS gateway',
        name: 'pacs-gateway',
        wadoUriRoot: o.wadoUri,
        qidoRoot: o.dicomweb,
        wadoRoot: o.dicomweb,
        qidoSupportsIncludeField: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        staticWado: false,
        dicomUploadEnabled: false,
        singlepart: 'bulkdata,video',
        bulkDataURI: { enabled: true, relativeResolution: 'studies' },
        omitQuotationForMultipartRequest: true,
      },
    }],
  };
  // A DICOMweb answer of 401 means the session ended (signed out, idle, expired): back to sign-in,
  // and from there back to this page.
  const onHttpError = `function (error) {
    if (error && error.status === 401) {
      window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
    }
  }`;
  return `// Written by pacs-gateway (src/http/viewer/app-config.ts); viewer.path's own app-config.js is not used.
window.config = ${JSON.stringify(config, null, 2).replace(/\n\}$/, `,\n  "httpErrorHandler": ${onHttpError}\n}`)};
`;
}

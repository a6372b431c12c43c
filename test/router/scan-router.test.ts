import { ScanRouter } from '../../src/router/scan-router.js';
import { runRouterContract } from './router.case.test.js';

runRouterContract('ScanRouter', (routes) => new ScanRouter(routes));

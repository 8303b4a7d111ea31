/** slipway's configuration: one table of settings, found in files and overridden by the environment. */
export { configFiles, configValue, loadConfig, propertiesValue, PROJECT_CONFIG_NAME, withSettings } from './load-config.js';
export type { ConfigSources, LoadedConfig } from './load-config.js';
export { SETTINGS, SETTING_KEYS } from './settings.js';
export type { ConfiguredPullPolicy, ReaperChoice, RuntimeChoice, SettingKey, SlipwayConfig } from './settings.js';

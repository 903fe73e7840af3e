/**
 * @module services/rds/tag
 * A resource tag, shared by the instance and backup records (a leaf module, so neither imports the other for it).
 */
export interface Tag {
  Key: string;
  Value: string;
}

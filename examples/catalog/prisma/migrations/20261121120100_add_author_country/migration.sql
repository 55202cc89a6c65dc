-- AlterTable
ALTER TABLE "Author" ADD COLUMN     "country" TEXT;

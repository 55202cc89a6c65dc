-- CreateTable
CREATE TABLE "Cell" (
    "id" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "parentId" TEXT,

    CONSTRAINT "Cell_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Cell_owner_idx" ON "Cell"("owner");

-- CreateIndex
CREATE INDEX "Cell_parentId_idx" ON "Cell"("parentId");

-- AddForeignKey
ALTER TABLE "Cell" ADD CONSTRAINT "Cell_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Cell"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
